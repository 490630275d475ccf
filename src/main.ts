import { runCli } from "./cli.ts";

/**
 * The process boundary: the only place that reads process.env and argv, sets the exit code and
 * listens for signals. SIGTERM lets the current pass (and helm) finish; the CronJob's grace period
 * is longer than the Helm timeout for that reason.
 *
 * Two entries run it: the ESM bundle (bin/ci-runner.js, development and the tests) and the image's
 * startup snapshot (src/snapshot.ts), which calls it after deserialization, so the signal handlers
 * are registered in the running process, never baked into the snapshot.
 */
declare const CI_RUNNER_VERSION: string;

/**
 * `from` is where the user's arguments start in process.argv: 2 after `node <script>`, 1 when
 * started from a snapshot (`node --snapshot-blob <blob> -- <args>` has no script).
 */
export async function main(from: 1 | 2 = 2): Promise<void> {
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      // A second signal means "now": a person pressing Ctrl-C twice, or a kubelet out of patience.
      if (stop.signal.aborted) process.exit(130);
      stop.abort();
    });
  }

  process.exitCode = await runCli(process.argv.slice(from), {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    version: typeof CI_RUNNER_VERSION === "string" ? CI_RUNNER_VERSION : "0.0.0-dev",
    stop: stop.signal,
  });
}
