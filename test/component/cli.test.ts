import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { buildPlan } from "../../src/adapters/build/job.ts";
import type { Exec } from "../../src/adapters/exec.ts";
import { runCli } from "../../src/cli.ts";
import { FOLLOW_UPS } from "../../src/commands/sync.ts";
import type { Config } from "../../src/config/load.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import type { Logger } from "../../src/log.ts";
import { helmReleases } from "../../src/wiring/cluster.ts";
import type { Runtime } from "../../src/wiring/runtime.ts";
import { fakeRuntime } from "../support/fake-runtime.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";

const A = sha("a");
const ENV = { REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", LOG_FORMAT: "json" };

/** A strict exec for the real Helm adapter: it answers `helm version` once and refuses anything else. */
function helmVersionOnly(version: string) {
  const asked: string[] = [];
  const exec: Exec = async (file, args) => {
    asked.push([file, ...args].join(" "));
    if (asked.length > 1 || file !== "helm" || args.join(" ") !== "version --template {{.Version}}") throw new Error(`fake exec: unexpected ${asked.at(-1)}`);
    return { exitCode: 0, stdout: version, stderr: "" };
  };
  return { exec, verify: () => expect(asked).toEqual(["helm version --template {{.Version}}"]) };
}

interface CliOptions {
  env?: Record<string, string>;
  world?: FakeWorld;
  stop?: AbortSignal;
  helmExec?: Exec;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

async function cli(argv: string[], options: CliOptions = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const world = options.world ?? new FakeWorld();
  const makeRuntime = (config: Config, _env: unknown, log: Logger): Runtime => {
    const fakes = world.ports();
    const helmExec = options.helmExec;
    // `plan` prints what the real adapters would create: their builders, wired as the factory wires them.
    const helm = helmExec === undefined ? undefined : helmReleases(config, { exec: helmExec, log });
    const ports = helm === undefined ? fakes : {
      ...fakes,
      builds: { ...fakes.builds, plan: async (request: Parameters<typeof buildPlan>[1]) => buildPlan(config, request) },
      releases: { ...fakes.releases, deployArgv: (request: Parameters<typeof helm.deployArgv>[0]) => helm.deployArgv(request) },
    };
    // Strict: no command under test here asks the preflight; doctor is tested on the real cluster.
    return fakeRuntime(config, ports, log);
  };
  const code = await runCli(argv, {
    env: options.env ?? ENV, stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), stderrIsTTY: false,
    version: "1.2.3", stop: options.stop ?? new AbortController().signal, makeRuntime, sleep: options.sleep,
  });
  return { code, out: stdout.join(""), err: stderr.join(""), world };
}

describe("ci-runner CLI", () => {
  it("--help documents the commands and the exit codes", async () => {
    const { code, out } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const word of ["sync", "status", "plan", "retry", "Exit codes:", "4  the head commit is set aside"]) expect(out).toContain(word);
  });

  it.each(["sync", "status", "plan", "retry", "doctor"])("%s --help has examples and the settings, and says where GIT_TOKEN goes", async (command) => {
    const { code, out } = await cli([command, "--help"]);
    expect(code).toBe(0);
    expect(out).toContain("Examples:");
    expect(out).toContain("--release <value>");
    expect(out).not.toContain("--git-token ");
    expect(out).toMatch(/GIT_TOKEN, GITHUB_APP_PRIVATE_KEY, WEBHOOK_URL, GITHUB_WEBHOOK_SECRET\s+are read from the environment only \(secrets never travel in argv\)/);
    expect(out).toContain("`ci-runner help settings`");
  });

  it.each(["help settings", "settings"])("`ci-runner %s` lists every setting from the settings table", async (command) => {
    const { code, out } = await cli(command.split(" "));
    expect(code).toBe(0);
    for (const setting of SETTINGS) expect(out).toMatch(new RegExp(`^  ${setting.env}  ${setting.flag ?? "\\(environment only\\)"}`, "m"));
    expect(out).toContain("[default: main]");
  });

  it("--version", async () => {
    const { code, out } = await cli(["--version"]);
    expect([code, out.trim()]).toEqual([0, "1.2.3"]);
  });

  it("an unknown command or flag is a usage error (exit 2)", async () => {
    expect((await cli(["deploy"])).code).toBe(2);
    const { code, err } = await cli(["sync", "--bogus"]);
    expect(code).toBe(2);
    expect(err).toMatch(/^ci-runner: unknown option '--bogus'$/m);
    expect((await cli(["deploy"])).err).toMatch(/^ci-runner: unknown command 'deploy'$/m);
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

  it("a configuration error's remedy names a command that lists every setting, GIT_TOKEN included", async () => {
    const { err } = await cli(["sync", "--once"], { env: {} });
    const command = /fix: .*`ci-runner ([^`]+)`/.exec(err)?.[1];
    expect(command, err).toBeDefined();
    const { code, out } = await cli((command ?? "").split(" "));
    expect(code).toBe(0);
    for (const setting of SETTINGS) expect(out).toContain(setting.env);
  });

  it("status runs with a malformed GIT_TOKEN it does not need, and says it left it unused", async () => {
    const { code, out, err } = await cli(["status"], { env: { ...ENV, GIT_TOKEN: "tkn bad value" } });
    expect(code).toBe(0);
    expect(out).toMatch(/^Warning +GIT_TOKEN=\(hidden\) is invalid: .*not used by this command$/m);
    expect(out + err).not.toContain("tkn bad value");
    expect((await cli(["sync", "--once"], { env: { ...ENV, GIT_TOKEN: "tkn bad value", GIT_TOKEN_SECRET: "git-token" } })).code).toBe(2);
  });

  it("sync --once deploys and exits 0, logging JSON lines with constant messages", async () => {
    const { code, err, world } = await cli(["sync", "--once"]);
    expect(code).toBe(0);
    expect(world.state.deployed?.sha).toBe(A);
    const messages = err.trim().split("\n").map((l) => JSON.parse(l).msg);
    expect(messages).toContain("Created build Job");
    expect(messages).toContain("Deployed release and recorded it");
  });

  it("sync --once deploys a push that landed while it worked, after releasing the lease, and stops at an unchanged head", async () => {
    const world = new FakeWorld();
    // A push arrives while A deploys, and another while B deploys: each is seen by the same run.
    world.deployResult = (deploying) => {
      if (deploying === A) world.setHead(sha("b"));
      if (deploying === sha("b")) world.setHead(sha("c"));
      return "succeed";
    };
    const { code, err } = await cli(["sync", "--once"], { world });
    expect(code).toBe(0);
    expect(world.helmDeploys).toEqual([A, sha("b"), sha("c")]);
    // The last look is a conditional read answered 304.
    expect(world.githubCalls.at(-1)).toEqual({ conditional: true, notModified: true });
    expect(world.state.lease).toBeUndefined();
    const messages = err.trim().split("\n").map((l) => JSON.parse(l).msg);
    expect(messages.filter((m) => m === "Looking at the branch head once more before exiting")).toHaveLength(3);
  });

  it("sync --once follows up at most FOLLOW_UPS times under a stream of pushes, and exits with the last pass's code", async () => {
    const world = new FakeWorld();
    let n = 0;
    world.deployResult = () => {
      world.setHead(sha(String.fromCharCode(98 + n++)));
      return "succeed";
    };
    expect((await cli(["sync", "--once"], { world })).code).toBe(0);
    expect(world.helmDeploys).toHaveLength(1 + FOLLOW_UPS);
    // A follow-up whose build fails ends the run with its code.
    const failing = new FakeWorld();
    failing.deployResult = (deploying) => {
      if (deploying === A) failing.setHead(sha("b"));
      return deploying === A ? "succeed" : "fail";
    };
    expect((await cli(["sync", "--once"], { world: failing })).code).toBe(3);
    expect(failing.helmDeploys).toEqual([A, sha("b")]);
  });

  it("sync without --once repeats the pass every interval until SIGTERM", async () => {
    const world = new FakeWorld();
    const stop = new AbortController();
    const waits: number[] = [];
    // Each wait between passes is one interval; a new commit arrives during the first, SIGTERM during the third.
    const sleep = async (ms: number) => {
      waits.push(ms);
      if (waits.length === 1) world.setHead(sha("b"));
      if (waits.length === 3) stop.abort();
    };
    const { code, err } = await cli(["sync", "--interval", "5"], { world, stop: stop.signal, sleep });
    expect(code).toBe(0);
    expect(waits).toEqual([5000, 5000, 5000]);
    expect(world.calls.filter((c) => c === "state.read").length).toBeGreaterThanOrEqual(3);
    expect(world.helmDeploys).toEqual([A, sha("b")]);
    const messages = err.trim().split("\n").map((l) => JSON.parse(l).msg);
    expect(messages.filter((m) => m === "Deployed release and recorded it")).toHaveLength(2);
    expect(messages.at(-1)).toBe("Stopped after a signal");
  });

  it("SIGTERM cuts the real wait between passes short", async () => {
    const world = new FakeWorld();
    const stop = new AbortController();
    const running = cli(["sync", "--interval", "1h"], { world, stop: stop.signal });
    while (!world.state.deployed) await new Promise((r) => setTimeout(r, 5));
    const stopped = Date.now();
    stop.abort();
    expect((await running).code).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(2000);
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

  it("plan prints the action, the images, the Job and the real adapter's helm argv, and changes nothing", async () => {
    const helm = helmVersionOnly("v3.17.3");
    const { code, out, err, world } = await cli(["plan", "--values", "env/dev.yaml"], { helmExec: helm.exec });
    expect(code, err).toBe(0);
    helm.verify();
    const plan = parseYaml(out);
    expect(plan.action).toEqual({ kind: "start-build", sha: A, attempt: 1 });
    expect(plan.images).toEqual([`registry.local:5000/acme/shop:${A}`, "registry.local:5000/acme/shop:main-latest"]);
    expect(plan.buildJob.metadata.name).toBe("build-shop-aaaaaaaaaaaa-1");
    expect(plan.helm).toEqual([
      "helm", "upgrade", "--install", "shop", "<checkout of chart at aaaaaaaaaaaa>", "--namespace", "default", "--kube-as-user", "system:serviceaccount:default:ci-runner-deploy",
      "--atomic", "--wait", "--timeout", "300s", "--history-max", "10", "--values", "<checkout>/env/dev.yaml",
      "--set-string", "image.repository=registry.local:5000/acme/shop", "--set-string", `image.tag=${A}`, "--output", "json",
    ]);
    expect(world.stateWrites).toBe(0);
  });

  it("plan -o json prints the same plan as JSON, with Helm 4's flags from the real builder", async () => {
    const helm = helmVersionOnly("v4.2.4");
    const { code, out } = await cli(["plan", "-o", "json"], { helmExec: helm.exec });
    expect(code).toBe(0);
    helm.verify();
    const plan = JSON.parse(out);
    expect(plan.buildJob.metadata.labels).toEqual(plan.buildJob.spec.template.metadata.labels);
    expect(plan.helm).toEqual(expect.arrayContaining(["--rollback-on-failure", "--wait=watcher"]));
  });

  it("plan with --verify helm-test says the test that follows the deploy and where a failure goes back to", async () => {
    const helm = helmVersionOnly("v4.2.4");
    const { code, out, err } = await cli(["plan", "-o", "json", "--verify", "helm-test"], { helmExec: helm.exec });
    expect(code, err).toBe(0);
    expect(JSON.parse(out).verify).toBe("helm test shop --logs; on failure, roll back to nothing (no verified commit yet): the commit stays and is set aside");
  });

  it("YAML output never uses anchors or aliases", async () => {
    const { out } = await cli(["plan"], { helmExec: helmVersionOnly("v3.17.3").exec });
    expect(out).not.toMatch(/[&*]a\d+/);
    const plan = parseYaml(out);
    expect(plan.buildJob.spec.template.metadata.labels["ci-runner.dev/sha"]).toBe(A);
    expect((await cli(["status", "-o", "yaml"])).out).not.toMatch(/[&*]a\d+/);
  });

  it("plan -o rejects an unknown format as a usage error", async () => {
    const { code, err } = await cli(["plan", "-o", "xml"]);
    expect(code).toBe(2);
    expect(err).toContain("Allowed choices are yaml, json");
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
