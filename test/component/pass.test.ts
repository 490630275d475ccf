import { describe, expect, it } from "vitest";
import { viewLease } from "../../src/reconcile/lease.ts";
import { plannedAction } from "../../src/commands/plan.ts";
import { MAX_STEPS, runPass } from "../../src/reconcile/pass.ts";
import { AttemptFailure, ConfigError } from "../../src/errors.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";
import { Killed, killAfter, passContext, testLog } from "../support/pass-context.ts";

const A = sha("a");
const B = sha("b");

describe("a whole pass on fakes", () => {
  it("builds and deploys a new head, then records it", async () => {
    const world = new FakeWorld();
    const outcome = await runPass(passContext(world.ports()));
    expect(outcome).toEqual({ kind: "deployed", sha: A, revision: 1 });
    expect(world.jobsCreated).toEqual(["build-shop-aaaaaaaaaaaa-1"]);
    expect(world.jobsDeleted).toEqual(["build-shop-aaaaaaaaaaaa-1"]);
    expect(world.helmDeploys).toEqual([A]);
    expect(world.state.deployed).toMatchObject({ sha: A, digest: `sha256:${"a".repeat(64)}`, revision: 1 });
    expect(world.state.lease).toBeUndefined();
    expect(world.state.built).toBeUndefined();
    expect(world.checkouts).toBe(world.disposed);
  });

  it("reads the release once per pass, again only after repairing it, and prefetches the chart while building", async () => {
    const world = new FakeWorld();
    await runPass(passContext(world.ports()));
    expect(world.calls.filter((c) => c === "helm.observe")).toHaveLength(1);
    expect(world.prefetched).toEqual([A]);
    const repairing = new FakeWorld();
    repairing.release = { status: "pending-upgrade", revision: 2 };
    await runPass(passContext(repairing.ports()));
    expect(repairing.calls.filter((c) => c === "helm.observe")).toHaveLength(2);
  });

  it("an idle tick asks GitHub conditionally, reads state once, and touches nothing else", async () => {
    const world = new FakeWorld();
    await runPass(passContext(world.ports()));
    world.calls = [];
    const writes = world.stateWrites;
    const outcome = await runPass(passContext(world.ports()));
    expect(outcome).toEqual({ kind: "up-to-date", sha: A });
    expect(world.calls).toEqual(["state.read", "github.branchHead"]);
    expect(world.githubCalls.at(-1)).toEqual({ conditional: true, notModified: true });
    expect(world.stateWrites).toBe(writes);
  });

  it("a new commit upgrades the release", async () => {
    const world = new FakeWorld();
    await runPass(passContext(world.ports()));
    world.setHead(B);
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "deployed", sha: B, revision: 2 });
    expect(world.helmDeploys).toEqual([A, B]);
  });

  it("an IMAGE:<sha> found in the registry but never recorded (pushed by anyone with the push credentials) is built again, and the digest deployed is the build's", async () => {
    const world = new FakeWorld();
    world.registry.set(A, `sha256:${"f".repeat(64)}`);
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "deployed", sha: A, revision: 1 });
    expect(world.jobsCreated).toEqual(["build-shop-aaaaaaaaaaaa-1"]);
    expect(world.state.deployed?.digest).toBe(`sha256:${"a".repeat(64)}`);
  });

  it("retries a failing build on later ticks, sets it aside after MAX_RETRIES, then builds a newer commit", async () => {
    const world = new FakeWorld();
    world.buildResult = (s) => (s === A ? "fail" : "succeed");
    const outcomes = [];
    for (let tick = 0; tick < 5; tick++) outcomes.push((await runPass(passContext(world.ports()))).kind);
    expect(outcomes).toEqual(["attempt-failed", "attempt-failed", "set-aside", "set-aside", "set-aside"]);
    expect(world.jobsCreated).toEqual([1, 2, 3].map((n) => `build-shop-aaaaaaaaaaaa-${n}`));
    expect(world.jobsDeleted).toEqual([]); // failed Jobs stay for kubectl logs until their TTL
    expect(world.state.setAside).toMatchObject({ sha: A, reason: expect.stringMatching(/^failed 3 of 3 attempts; last: build pod exited with code 1/) });
    world.setHead(B);
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "deployed", sha: B, revision: 1 });
    expect(world.state.setAside).toBeUndefined();
  });

  it("a failed deploy counts as an attempt and the built image is reused", async () => {
    const world = new FakeWorld();
    let failures = 1;
    world.deployResult = () => (failures-- > 0 ? "fail" : "succeed");
    expect(await runPass(passContext(world.ports()))).toMatchObject({ kind: "attempt-failed", attempt: 1, message: expect.stringMatching(/rolled back/) });
    expect(world.state.lastError?.message).toMatch(/rolled back/);
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "deployed", sha: A, revision: 1 });
    expect(world.jobsCreated).toHaveLength(1);
    expect(world.state.lastError).toBeUndefined();
  });

  it("repairs a release left pending by a killed helm, then deploys", async () => {
    const world = new FakeWorld();
    world.release = { status: "pending-upgrade", revision: 2 };
    world.registry.set(A, `sha256:${"a".repeat(64)}`);
    expect(await runPass(passContext(world.ports()))).toMatchObject({ kind: "deployed", sha: A });
    expect(world.helmRepairs).toEqual(["pending-upgrade"]);
    expect(world.helmDeploys).toEqual([A]);
  });

  it("leaves the work to a run that holds the lease", async () => {
    const world = new FakeWorld();
    world.state = { lease: { holder: "cronjob-pod/1", expiresAt: new Date(world.now.getTime() + 30_000).toISOString() } };
    world.resourceVersion = 7;
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "lease-busy", holder: "cronjob-pod/1", expiresAt: expect.any(String) });
    expect(world.jobsCreated).toEqual([]);
    expect(world.calls).not.toContain("builds.start");
  });

  it("takes over an expired lease", async () => {
    const world = new FakeWorld();
    world.state = { lease: { holder: "dead-pod/1", expiresAt: new Date(world.now.getTime() - 1000).toISOString() } };
    world.resourceVersion = 7;
    expect(await runPass(passContext(world.ports()))).toMatchObject({ kind: "deployed", sha: A });
  });

  it("plan changes nothing", async () => {
    const world = new FakeWorld();
    const planned = await plannedAction(passContext(world.ports()));
    expect(planned).toEqual({ recorded: false, action: { kind: "start-build", sha: A, attempt: 1 }, state: world.state });
    expect(world.stateWrites).toBe(0);
    expect(world.calls.filter((c) => /start|write|deploy|remove|repair|wait/.test(c))).toEqual([]);
  });

  it("ignores a malformed annotation instead of crashing, says so, and the next write clears it", async () => {
    const world = new FakeWorld();
    world.handEdited = { "ci-runner.dev/deployed-sha": "not-a-sha", "ci-runner.dev/deployed-at": "yesterday" };
    const lines: string[] = [];
    expect(await runPass(passContext(world.ports(), { log: testLog(lines) }))).toMatchObject({ kind: "deployed", sha: A });
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn" && l.msg === "Ignored malformed state annotation");
    expect(warned.map((l) => l.warning)).toEqual([expect.stringMatching(/^annotations ci-runner\.dev\/deployed-sha, ci-runner\.dev\/deployed-at, .* are malformed \(sha: a 40-character hex commit SHA; at: .*\); treated as absent$/)]);
    expect(world.handEdited).toEqual({});
    expect(world.state.deployed?.sha).toBe(A);
  });

  it("a pass that does not settle within MAX_STEPS is a bug, not a loop", async () => {
    const world = new FakeWorld();
    // A build that "finishes" without ever changing: decide asks to await it again and again.
    const ports = world.ports();
    let waits = 0;
    ports.builds.find = async () => ({ name: "build-shop-aaaaaaaaaaaa-1", sha: A, attempt: 1, phase: "running" });
    ports.builds.wait = async () => void waits++;
    await expect(runPass(passContext(ports))).rejects.toThrow(`pass did not settle after ${MAX_STEPS} steps`);
    expect(waits).toBe(MAX_STEPS);
  });
});

describe("killed after step N, run again", () => {
  /** Count the mutating steps of a clean run, so every crash point is covered. */
  async function stepsOfCleanRun(setup: (w: FakeWorld) => void): Promise<string[]> {
    const world = new FakeWorld();
    setup(world);
    const probe = killAfter(world.ports(), Number.POSITIVE_INFINITY);
    await runPass(passContext(probe.ports));
    return probe.steps();
  }

  const scenarios: [string, (w: FakeWorld) => void][] = [
    ["build and deploy", () => {}],
    ["an unrecorded image already in the registry", (w) => w.registry.set(A, `sha256:${"a".repeat(64)}`)],
    ["pending release to repair", (w) => { w.release = { status: "pending-upgrade", revision: 1 }; }],
  ];

  for (const [name, setup] of scenarios) {
    it(`${name}: converges from a kill after every step, with one build per SHA attempt`, async () => {
      const steps = await stepsOfCleanRun(setup);
      expect(steps.length).toBeGreaterThanOrEqual(3);
      for (let n = 1; n <= steps.length; n++) {
        const world = new FakeWorld();
        setup(world);
        const dying = killAfter(world.ports(), n);
        const first = runPass(passContext(dying.ports));
        // The last step is giving the lease back in a `finally`, whose failure is only logged.
        if (n < steps.length) await expect(first, `kill after step ${n}`).rejects.toBeInstanceOf(Killed);
        else await expect(first).resolves.toMatchObject({ kind: "deployed" });
        world.advance(60); // the next tick: a killed run's lease has expired
        let outcome = await runPass(passContext(world.ports(), { holder: "next-tick/2" }));
        // Killed inside a deploy it had begun and before helm ran: that attempt was counted when it
        // started, and the tick after deploys again.
        if (outcome.kind === "attempt-failed") {
          expect(steps[n], `kill after step ${n}`).toBe("helm.deploy");
          expect(outcome).toMatchObject({ attempt: 1, message: expect.stringMatching(/did not finish/) });
          outcome = await runPass(passContext(world.ports(), { holder: "next-tick/3" }));
        }
        // Killed after the final record, the next tick simply finds the head deployed.
        expect(outcome.kind, `kill after step ${n} (${steps[n - 1]})`).toBe(n >= steps.length - 1 ? "up-to-date" : "deployed");
        expect(world.state.deployed?.sha).toBe(A);
        // No live lease is left behind (a killed run's expired lease may stay until the next write).
        expect(viewLease(world.state, "anyone", world.now).kind).toBe("free");
        expect(new Set(world.jobsCreated).size, `kill after step ${n}`).toBe(world.jobsCreated.length);
        expect(world.jobsCreated.length).toBeLessThanOrEqual(1);
        expect(world.helmDeploys.length, `kill after step ${n}`).toBeLessThanOrEqual(2);
        // A third tick does nothing.
        expect(await runPass(passContext(world.ports()))).toEqual({ kind: "up-to-date", sha: A });
      }
    });
  }

  it("a kill after helm succeeded is recorded without running helm again", async () => {
    const steps = await stepsOfCleanRun(() => {});
    expect(steps.slice(-3)).toEqual(["helm.deploy", "state.write", "state.write"]);
    const probeWorld = new FakeWorld();
    const probe = killAfter(probeWorld.ports(), steps.indexOf("helm.deploy") + 1);
    await expect(runPass(passContext(probe.ports))).rejects.toBeInstanceOf(Killed);
    expect(probeWorld.helmDeploys).toEqual([A]);
    expect(probeWorld.state.deployed).toBeUndefined();
    probeWorld.advance(60);
    expect(await runPass(passContext(probeWorld.ports(), { holder: "next/2" }))).toMatchObject({ kind: "deployed", sha: A });
    expect(probeWorld.helmDeploys).toEqual([A]);
  });
});

describe("a commit whose chart cannot be used", () => {
  it("counts as a failed attempt on every tick, then is set aside: never a transient error forever", async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    const noChart = { ...ports, charts: { ...ports.charts, checkout: async () => { throw new AttemptFailure(`commit ${A.slice(0, 12)} has no Helm chart at CHART_PATH=chart (no Chart.yaml)`); } } };
    const outcomes = [];
    for (let tick = 0; tick < 3; tick++) outcomes.push((await runPass(passContext(noChart, { maxRetries: 2 })).catch((e: unknown) => e)));
    expect(outcomes.map((o) => (o as { kind?: string }).kind)).toEqual(["attempt-failed", "set-aside", "set-aside"]);
    expect(world.state.setAside).toMatchObject({ sha: A, reason: expect.stringContaining("no Helm chart at CHART_PATH=chart") });
    expect(world.helmDeploys).toEqual([]);
  });
});

describe("a deploy stopped by something other than the commit", () => {
  it("is not counted: the marker is cleared, the error goes up, and once it is fixed the same attempt deploys", async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    let lacking = true;
    const rights = new ConfigError("system:serviceaccount:app:ci-runner-deploy cannot create ingresses.networking.k8s.io in namespace app", "run the same `ci-runner install` again");
    const guarded = { ...ports, releases: { ...ports.releases, deploy: async (...args: Parameters<typeof ports.releases.deploy>) => { if (lacking) throw rights; return ports.releases.deploy(...args); } } };
    await expect(runPass(passContext(guarded))).rejects.toBe(rights);
    expect(world.state.deploying).toBeUndefined();
    expect(world.state.attempts).toBeUndefined();
    lacking = false;
    expect(await runPass(passContext(guarded))).toEqual({ kind: "deployed", sha: A, revision: 1 });
    expect(world.jobsCreated).toHaveLength(1);
  });
});
