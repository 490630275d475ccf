import { runCli } from "./cli.ts";

/**
 * The process boundary: the only place that reads process.env and argv, sets the exit code and
 * listens for signals. SIGTERM lets the current pass (and helm) finish; the CronJob's grace period
 * is longer than the Helm timeout for that reason.
 */
declare const CI_RUNNER_VERSION: string;

const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    // A second signal means "now": a person pressing Ctrl-C twice, or a kubelet out of patience.
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true,
  version: typeof CI_RUNNER_VERSION === "string" ? CI_RUNNER_VERSION : "0.0.0-dev",
  stop: stop.signal,
});
