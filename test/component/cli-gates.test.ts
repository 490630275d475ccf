import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli.ts";
import type { Config } from "../../src/config/load.ts";
import { runPass } from "../../src/reconcile/pass.ts";
import type { Logger } from "../../src/log.ts";
import type { Runtime } from "../../src/wiring/runtime.ts";
import { fakeRuntime } from "../support/fake-runtime.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";
import { passContext } from "../support/pass-context.ts";

const B = sha("b");
const ENV = { REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", LOG_FORMAT: "json" };

/** The CLI on a fake world, the gate settings read from the environment like in a pod. */
async function cli(world: FakeWorld, argv: string[], env: Record<string, string>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const makeRuntime = (config: Config, _env: unknown, log: Logger): Runtime => fakeRuntime(config, world.ports(), log, { whoAmI: async () => "ada@example.com" });
  const code = await runCli(argv, {
    env: { ...ENV, ...env }, stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t), stderrIsTTY: false,
    version: "1.2.3", stop: new AbortController().signal, makeRuntime,
  });
  return { code, out: stdout.join(""), err: stderr.join("") };
}

async function deployedA(): Promise<FakeWorld> {
  const world = new FakeWorld();
  world.now = new Date("2026-11-18T12:00:00Z");
  await runPass(passContext(world.ports()));
  world.setHead(B);
  return world;
}

describe("status, plan and approve with gates", () => {
  it("status and plan name the gate that holds the head; approve records who; then sync deploys", async () => {
    const world = await deployedA();
    const env = { REQUIRE_APPROVAL: "true" };
    const status = await cli(world, ["status", "-o", "json"], env);
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({
      head: { sha: B, deployed: false },
      gate: { sha: B, action: "hold", gate: "approval", reason: `waiting for approval: \`ci-runner approve ${B}\``, until: null },
      approved: null,
    });
    const plan = await cli(world, ["plan", "-o", "json"], env);
    expect(plan.code, plan.err).toBe(0);
    expect(JSON.parse(plan.out)).toMatchObject({ gate: "approval", action: { kind: "hold", sha: B, gate: "approval" } });

    const approve = await cli(world, ["approve", B], env);
    expect(approve.code, approve.err).toBe(0);
    expect(approve.out).toContain(`Approved ${B} as ada@example.com at 2026-11-18T12:00:00.000Z.`);
    const table = await cli(world, ["status"], env);
    expect(table.out).toMatch(/^Approved +bbbbbbbbbbbb by ada@example.com at 2026-11-18T12:00:00.000Z$/m);
    expect(table.out).toMatch(/^Gate +nothing holds the head$/m);

    const sync = await cli(world, ["sync", "--once"], env);
    expect(sync.code, sync.err).toBe(0);
    expect(world.state.deployed?.sha).toBe(B);
  });

  it("a freeze shows until when; a skipped head shows why", async () => {
    const world = await deployedA();
    world.now = new Date("2026-11-20T17:00:00Z");
    const frozen = await cli(world, ["status"], { FREEZE_WINDOWS: "0 17 * * FRI 63h Europe/Berlin" });
    expect(frozen.out).toMatch(/^Gate +bbbbbbbbbbbb held by freeze until 2026-11-23T07:00:00.000Z: deploy freeze "0 17 \* \* FRI 63h Europe\/Berlin"/m);

    world.commits.set(B, { message: "docs [skip ci]", authorName: "Ada", authorEmail: "a@x" });
    const sync = await cli(world, ["sync", "--once"], { SKIP_MARKERS: "true" });
    expect(sync.code, sync.err).toBe(0);
    const status = await cli(world, ["status", "-o", "json"], { SKIP_MARKERS: "true" });
    expect(JSON.parse(status.out)).toMatchObject({ gate: null, skipped: { sha: B, reason: "its message carries [skip ci]" } });
  });

  it("a malformed gate setting is a configuration error naming the window", async () => {
    const world = await deployedA();
    const run = await cli(world, ["sync", "--once"], { FREEZE_WINDOWS: "0 25 * * * 1h" });
    expect(run.code).toBe(2);
    expect(run.err).toContain('hour "25" is not from 0 to 23');
  });
});
