import { parse as parseYaml } from "yaml";
import { githubRepo } from "./adapters/github/octokit.ts";
import { GitHubSource } from "./adapters/github/source.ts";
import { ResponseHeaders, type Transport } from "./adapters/http/transport.ts";
import { runCli } from "./cli.ts";
import { decodeState } from "./adapters/state/codec.ts";
import { createRuntime } from "./wiring/factory.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const ETAG = `"${SHA}"`;
const ANNOTATIONS = {
  "ci-runner.dev/deployed-sha": SHA, "ci-runner.dev/deployed-at": "2026-01-01T00:00:00.000Z",
  "ci-runner.dev/head-sha": SHA, "ci-runner.dev/head-etag": ETAG,
};
const ENV = { REPO: "acme/warm-up", IMAGE: "registry.invalid/acme/warm-up", CHART_PATH: "chart", RELEASE: "warm-up", LOG_FORMAT: "json", KUBECONFIG: "/nonexistent/warm-up" };
const KUBECONFIG = "apiVersion: v1\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n";

/** GitHub's answer to an unchanged head, made in memory: no socket exists while a snapshot is built. */
const notModified: Transport = async (url) => ({
  status: 304, statusText: "Not Modified", ok: false, url, redirected: false, body: null,
  headers: new ResponseHeaders({ etag: ETAG, "x-ratelimit-remaining": "59" }),
  text: async () => "", json: async () => ({}), arrayBuffer: async () => new ArrayBuffer(0),
});

/**
 * Runs what every tick runs while the startup snapshot is built, so that those functions are
 * compiled in the snapshot instead of on each tick (functions not run here are compiled at run
 * time, and V8's compile cache does not apply to a snapshot): help and version, a configuration
 * error, and a whole idle pass (config, logger, Octokit with its plugins answering a 304, state
 * decoding, decide) with the network replaced by in-memory answers. Writes nothing anywhere.
 */
export async function warmUp(): Promise<void> {
  const quiet = { stdout: () => {}, stderr: () => {}, stderrIsTTY: false, version: "0.0.0-warm-up", stop: new AbortController().signal };
  // A warm-up that took another path than a tick would warm the wrong code: each exit code is checked.
  const expect = (what: string, want: number) => (code: number) => {
    if (code !== want) throw new Error(`snapshot warm-up: ${what} exited ${code}, expected ${want}`);
  };
  for (const argv of [["--help"], ["--version"], ["sync", "--help"], ["help", "settings"]]) expect(argv.join(" "), 0)(await runCli(argv, { ...quiet, env: {} }));
  expect("sync --once without settings", 2)(await runCli(["sync", "--once"], { ...quiet, env: {} }));
  parseYaml(KUBECONFIG);
  expect("an idle sync --once", 0)(await runCli(["sync", "--once"], {
    ...quiet,
    env: ENV,
    makeRuntime: (config, env, log, secrets) => {
      const runtime = createRuntime(config, env, log, secrets);
      const repo = githubRepo({ baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, auth: { token: async () => undefined }, log, retries: 0, transport: notModified });
      const source = new GitHubSource(repo, config.branch);
      const state = { ...runtime.ports.state, read: async () => ({ ...decodeState(JSON.parse(JSON.stringify(ANNOTATIONS)) as Record<string, string>), resourceVersion: "1" }) };
      return { ...runtime, ports: { ...runtime.ports, source, state } };
    },
  }));
}
