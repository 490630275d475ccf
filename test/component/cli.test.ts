import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli } from "../../src/cli.ts";
import type { Runtime } from "../../src/runtime.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";

const A = sha("a");
const ENV = { REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", LOG_FORMAT: "json" };

async function cli(argv: string[], options: { env?: Record<string, string>; world?: FakeWorld; stop?: AbortSignal } = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const world = options.world ?? new FakeWorld();
  const makeRuntime = (config: { maxRetries: number }, _env: unknown, log: Runtime["pass"]["log"]): Runtime => {
    const ports = world.ports();
    // Strict: no command under test here asks the preflight; doctor is tested on the real cluster.
    const unexpected = async (): Promise<never> => { throw new Error("fake runtime: preflight was not expected"); };
    const preflight = { helm: unexpected, registrySecret: unexpected, missingPermissions: unexpected };
    return { ports, preflight, pass: { ports, log, holder: "cli-test/1", maxRetries: config.maxRetries, leaseSeconds: 45, valuesFiles: [] } };
  };
  const code = await runCli(argv, {
    env: options.env ?? ENV, stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), stderrIsTTY: false,
    version: "1.2.3", stop: options.stop ?? new AbortController().signal, makeRuntime: makeRuntime as never,
  });
  return { code, out: stdout.join(""), err: stderr.join(""), world };
}

describe("ci-runner CLI", () => {
  it("--help documents the commands and the exit codes", async () => {
    const { code, out } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const word of ["sync", "status", "plan", "retry", "Exit codes:", "4  the head commit is set aside"]) expect(out).toContain(word);
  });

  it.each(["sync", "status", "plan", "retry"])("%s --help has examples and the settings", async (command) => {
    const { code, out } = await cli([command, "--help"]);
    expect(code).toBe(0);
    expect(out).toContain("Examples:");
    expect(out).toContain("--release <value>");
    expect(out).not.toContain("--git-token ");
  });

  it("--version", async () => {
    const { code, out } = await cli(["--version"]);
    expect([code, out.trim()]).toEqual([0, "1.2.3"]);
  });

  it("an unknown command or flag is a usage error (exit 2)", async () => {
    expect((await cli(["deploy"])).code).toBe(2);
    const { code, err } = await cli(["sync", "--bogus"]);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown option '--bogus'/);
  });

  it("bad configuration lists every problem and exits 2 before touching anything", async () => {
    const world = new FakeWorld();
    const { code, err } = await cli(["sync", "--once", "--max-retries", "0"], { env: { REPO: "nope", GIT_TOKEN: "tkn_hidden_value_1" }, world });
    expect(code).toBe(2);
    expect(err).toContain('--max-retries="0" is invalid');
    expect(err).toContain('REPO="nope" is invalid');
    expect(err).toContain("IMAGE (or --image) is required");
    expect(err).not.toContain("tkn_hidden_value_1");
    expect(world.calls).toEqual([]);
  });

  it("sync --once deploys and exits 0, logging JSON lines with constant messages", async () => {
    const { code, err, world } = await cli(["sync", "--once"]);
    expect(code).toBe(0);
    expect(world.state.deployed?.sha).toBe(A);
    const messages = err.trim().split("\n").map((l) => JSON.parse(l).msg);
    expect(messages).toContain("Created build Job");
    expect(messages).toContain("Deployed release and recorded it");
  });

  it("sync without --once repeats the pass every interval until SIGTERM", async () => {
    const world = new FakeWorld();
    const stop = new AbortController();
    const running = cli(["sync", "--interval", "5"], { world, stop: stop.signal });
    while (!world.state.deployed) await new Promise((r) => setTimeout(r, 5));
    world.setHead(sha("b")); // a new commit arrives; the sleep is cut short by the signal below
    stop.abort();
    const { code, err } = await running;
    expect(code).toBe(0);
    expect(world.state.deployed?.sha).toBe(A);
    expect(err).toContain("Stopped after a signal");
  });

  it("a failed attempt exits 3, a set-aside commit 4", async () => {
    const world = new FakeWorld();
    world.buildResult = () => "fail";
    expect((await cli(["sync", "--once", "--max-retries", "2"], { world })).code).toBe(3);
    expect((await cli(["sync", "--once", "--max-retries", "2"], { world })).code).toBe(4);
    expect((await cli(["sync", "--once", "--max-retries", "2"], { world })).code).toBe(4);
  });

  it("status -o json reports the deployed SHA, head and lease", async () => {
    const world = new FakeWorld();
    await cli(["sync", "--once"], { world });
    const { code, out } = await cli(["status", "-o", "json"], { world });
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.deployed).toMatchObject({ sha: A, image: `registry.local:5000/acme/shop:${A}`, revision: 1 });
    expect(report.head).toEqual({ sha: A, deployed: true });
    expect(report.release).toEqual({ status: "deployed", revision: 1 });
    expect(report.lease).toBeNull();
    expect(report.building).toEqual([]);
  });

  it("status prints a table by default", async () => {
    const { code, out } = await cli(["status"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^Target {7}acme\/shop@main -> release shop in default$/m);
    expect(out).toMatch(/^Deployed {5}nothing yet$/m);
  });

  it("status -o yaml", async () => {
    const { out } = await cli(["status", "-o", "yaml"]);
    expect(parseYaml(out).target.release).toBe("shop");
  });

  it("plan prints the action, the Job and the helm argv, and changes nothing", async () => {
    const { code, out, world } = await cli(["plan"]);
    expect(code).toBe(0);
    const plan = parseYaml(out);
    expect(plan.action).toEqual({ kind: "start-build", sha: A, attempt: 1 });
    expect(plan.buildJob.metadata.name).toBe("build-shop-aaaaaaaaaaaa-1");
    expect(plan.helm).toContain(`image.tag=${A}`);
    expect(world.stateWrites).toBe(0);
  });

  it("retry lets a set-aside commit be tried again", async () => {
    const world = new FakeWorld();
    world.buildResult = () => "fail";
    for (let i = 0; i < 3; i++) await cli(["sync", "--once"], { world });
    expect(world.state.setAside?.sha).toBe(A);
    expect((await cli(["retry", "bbbb"], { world })).code).toBe(2);
    const { code, out } = await cli(["retry", A.slice(0, 7)], { world });
    expect(code).toBe(0);
    expect(out).toContain(`Commit ${A} will be tried again`);
    world.buildResult = () => "succeed";
    expect((await cli(["sync", "--once"], { world })).code).toBe(0);
    expect(world.jobsCreated.at(-1)).toBe("build-shop-aaaaaaaaaaaa-4");
    expect((await cli(["retry"], { world })).code).toBe(2);
  });

  it("an unexpected error exits 1 with its stack in the log", async () => {
    const world = new FakeWorld();
    world.source = () => ({ branchHead: async () => { throw new TypeError("boom"); } });
    const { code, err } = await cli(["sync", "--once"], { world });
    expect(code).toBe(1);
    expect(JSON.parse(err.trim().split("\n").at(-1) ?? "{}")).toMatchObject({ level: "error", msg: "Internal error", err: { type: "TypeError", message: "boom", stack: expect.any(String) } });
  });

  it("never prints the token, even when an adapter echoes it", async () => {
    const world = new FakeWorld();
    world.source = () => ({ branchHead: async () => { throw new Error("fetch https://x-access-token:tkn_abcdef0123456789@github.com failed"); } });
    const { err } = await cli(["sync", "--once"], { env: { ...ENV, GIT_TOKEN: "tkn_abcdef0123456789", GIT_TOKEN_SECRET: "git-token" }, world });
    expect(err).not.toContain("tkn_abcdef0123456789");
    expect(err).toContain("[REDACTED]");
  });
});
