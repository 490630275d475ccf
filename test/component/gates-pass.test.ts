import { describe, expect, it } from "vitest";
import { runApprove } from "../../src/commands/approve.ts";
import { runRetry } from "../../src/commands/retry.ts";
import { parseFreezeWindows } from "../../src/reconcile/freeze.ts";
import { NO_GATES } from "../../src/reconcile/gates.ts";
import { plannedAction } from "../../src/commands/plan.ts";
import { runPass } from "../../src/reconcile/pass.ts";
import type { Check, GatePolicy } from "../../src/reconcile/types.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";
import { Killed, killAfter, passContext } from "../support/pass-context.ts";

const A = sha("a");
const B = sha("b");
const C = sha("c");
const D = sha("d");
const digestOf = (s: string) => `sha256:${s.slice(0, 1).repeat(64)}`;
const FREEZE = parseFreezeWindows("0 17 * * FRI 63h Europe/Berlin");
const PATHS: GatePolicy = { ...NO_GATES, buildPaths: ["src"], deployPaths: ["chart"] };
const EVERY: GatePolicy = { ...PATHS, skipMarkers: true, skipAuthors: ["renovate[bot]"], checks: { kind: "all" }, approval: true, freeze: FREEZE };
const check = (name: string, state: Check["state"]): Check => ({ name, state, url: `https://ci.example/${name}` });

/** A world where A is deployed and B is the new head. */
async function deployedA(policy: GatePolicy = NO_GATES): Promise<FakeWorld> {
  const world = new FakeWorld();
  world.now = new Date("2026-11-18T12:00:00Z"); // a Wednesday: no freeze window in force
  await runPass(passContext(world.ports()));
  world.setHead(B);
  world.calls = [];
  world.githubCalls = [];
  if (policy.approval) world.state = { ...world.state, approved: { sha: B } };
  return world;
}

const sync = (world: FakeWorld, policy: GatePolicy, holder = "test-pod/1") => runPass(passContext(world.ports(), { policy, holder }));

describe("gates in a whole pass", () => {
  it("an idle tick asks no gate, even with every gate configured", async () => {
    const world = await deployedA();
    world.setHead(A);
    const writes = world.stateWrites;
    expect(await sync(world, EVERY)).toEqual({ kind: "up-to-date", sha: A });
    expect(world.calls).toEqual(["state.read", "github.branchHead"]);
    expect(world.stateWrites).toBe(writes);
  });

  it("without gates a new head asks GitHub nothing beyond its head", async () => {
    const world = await deployedA();
    expect(await sync(world, NO_GATES)).toMatchObject({ kind: "deployed", sha: B });
    expect(world.calls.filter((c) => c.startsWith("github."))).toEqual(["github.branchHead"]);
  });

  it("a [skip ci] head is recorded as seen, not built; the next tick is idle at one request", async () => {
    const world = await deployedA();
    world.commits.set(B, { message: "docs [skip ci]", authorName: "Ada", authorEmail: "ada@example.com" });
    const policy = { ...NO_GATES, skipMarkers: true };
    expect(await sync(world, policy)).toEqual({ kind: "skipped", sha: B, reason: "its message carries [skip ci]" });
    expect(world.jobsCreated).toHaveLength(1);
    expect(world.helmDeploys).toEqual([A]);
    expect(world.state.seen).toEqual({ sha: B, reason: "its message carries [skip ci]" });
    expect(world.state.deployed?.sha).toBe(A);
    world.calls = [];
    expect(await sync(world, policy)).toEqual({ kind: "skipped", sha: B, reason: "its message carries [skip ci]" });
    expect(world.calls).toEqual(["state.read", "github.branchHead"]);
    // A newer commit is built and deployed, and the seen record is then history.
    world.setHead(C);
    world.commits.set(C, { message: "feat: y", authorName: "Ada", authorEmail: "ada@example.com" });
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: C });
    expect(world.state.seen).toBeUndefined();
  });

  it("a bot's head is recorded as seen", async () => {
    const world = await deployedA();
    world.commits.set(B, { message: "chore(deps): bump x", authorName: "renovate[bot]", authorEmail: "bot@users.noreply.github.com" });
    expect(await sync(world, { ...NO_GATES, skipAuthors: ["renovate[bot]"] })).toMatchObject({ kind: "skipped", reason: "its author renovate[bot] is in SKIP_AUTHORS" });
    expect(world.helmDeploys).toEqual([A]);
  });

  it("a chart-only change deploys the new chart with the image already running, and records which image", async () => {
    const world = await deployedA();
    world.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["chart/values.yaml"] });
    expect(await sync(world, PATHS)).toEqual({ kind: "deployed", sha: B, revision: 2 });
    expect(world.jobsCreated).toHaveLength(1); // only A's build
    expect(world.helmDeploys).toEqual([A, A]); // the image tag of both deploys is A's
    expect(world.state.deployed).toMatchObject({ sha: B, imageSha: A, digest: digestOf(A) });
    // The next chart change compares with B (deployed) and still runs A's image.
    world.setHead(C);
    world.compares.set(`${B}...${C}`, { complete: true, base: B, files: ["chart/templates/x.yaml"] });
    expect(await sync(world, PATHS)).toMatchObject({ kind: "deployed", sha: C });
    expect(world.state.deployed).toMatchObject({ sha: C, imageSha: A });
    // A source change builds C's successor.
    world.setHead(D);
    world.compares.set(`${C}...${D}`, { complete: true, base: C, files: ["src/app.ts"] });
    expect(await sync(world, PATHS)).toMatchObject({ kind: "deployed", sha: D });
    expect(world.jobsCreated).toEqual(["build-shop-aaaaaaaaaaaa-1", "build-shop-dddddddddddd-1"]);
    expect(world.state.deployed?.imageSha).toBeUndefined();
  });

  it("nothing relevant changed: the head is recorded as seen; a compare too large builds", async () => {
    const world = await deployedA();
    world.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["README.md"] });
    expect(await sync(world, PATHS)).toMatchObject({ kind: "skipped", sha: B });
    expect(world.jobsCreated).toHaveLength(1);
    world.setHead(C);
    world.compares.set(`${A}...${C}`, { complete: false, base: A, why: "GitHub could not compare (HTTP 422)" });
    expect(await sync(world, PATHS)).toMatchObject({ kind: "deployed", sha: C });
    expect(world.jobsCreated).toHaveLength(2);
  });

  it("a chart-only deploy killed after helm converges with one more helm run and no build", async () => {
    const world = await deployedA();
    world.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["chart/values.yaml"] });
    const probe = killAfter(world.ports(), Number.POSITIVE_INFINITY);
    await runPass(passContext(probe.ports, { policy: PATHS }));
    const afterHelm = probe.steps().indexOf("helm.deploy") + 1;
    expect(afterHelm).toBeGreaterThan(0);
    const fresh = await deployedA();
    fresh.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["chart/values.yaml"] });
    const dying = killAfter(fresh.ports(), afterHelm);
    await expect(runPass(passContext(dying.ports, { policy: PATHS }))).rejects.toBeInstanceOf(Killed);
    expect(fresh.helmDeploys).toEqual([A, A]);
    expect(fresh.state.deployed?.sha).toBe(A);
    fresh.advance(60);
    // The release's image tag is A's, so the next tick cannot tell helm ran: the deploy it began is
    // counted as a failed attempt (the attempt is counted when it starts), and the tick after runs
    // helm once more: one more revision.
    expect(await sync(fresh, PATHS, "next/2")).toMatchObject({ kind: "attempt-failed", sha: B, attempt: 1, message: expect.stringMatching(/did not finish: the runner stopped while it ran/) });
    expect(await sync(fresh, PATHS, "next/3")).toMatchObject({ kind: "deployed", sha: B });
    expect(fresh.helmDeploys).toEqual([A, A, A]);
    expect(fresh.jobsCreated).toHaveLength(1);
    expect(fresh.state.deployed).toMatchObject({ sha: B, imageSha: A });
  });

  it("pending checks hold the head at one GitHub request a tick, no lease and no write; green builds; red sets aside with the check's link", async () => {
    const world = await deployedA();
    const policy: GatePolicy = { ...NO_GATES, checks: { kind: "all" } };
    world.checkRuns.set(B, [check("test", "pending")]);
    expect(await sync(world, policy)).toEqual({ kind: "waiting", sha: B, gate: "checks", reason: 'waiting: check "test" is pending: https://ci.example/test' });
    const writes = world.stateWrites; // the first waiting tick remembered the head's ETag
    world.calls = [];
    expect(await sync(world, policy)).toMatchObject({ kind: "waiting", gate: "checks" });
    expect(world.calls).toEqual(["state.read", "github.branchHead", "github.checkRuns"]);
    expect(world.stateWrites).toBe(writes);
    expect(world.githubCalls.at(-1)).toEqual({ conditional: true, notModified: true });

    world.checkRuns.set(B, [check("test", "success")]);
    world.statuses.set(B, [check("ci/legacy", "success")]);
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: B });

    world.setHead(C);
    world.checkRuns.set(C, [check("test", "success"), check("lint", "failure")]);
    expect(await sync(world, policy)).toEqual({ kind: "set-aside", sha: C, reason: 'check "lint" failed: https://ci.example/lint' });
    expect(world.state.setAside).toEqual({ sha: C, reason: 'check "lint" failed: https://ci.example/lint' });
    expect(world.helmDeploys).toEqual([A, B]);
    // Re-run green: still set aside until `retry`, which lets the gates decide again.
    world.checkRuns.set(C, [check("test", "success"), check("lint", "success")]);
    world.statuses.set(C, []);
    expect(await sync(world, policy)).toMatchObject({ kind: "set-aside", sha: C });
    await runRetry(world.store(), undefined, () => {});
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: C });
  });

  it("approval holds the head until `ci-runner approve`, which records who and when", async () => {
    const world = await deployedA();
    const policy: GatePolicy = { ...NO_GATES, approval: true };
    expect(await sync(world, policy)).toMatchObject({ kind: "waiting", gate: "approval", reason: `waiting for approval: \`ci-runner approve ${B}\`` });
    expect(world.helmDeploys).toEqual([A]);
    const out: string[] = [];
    const identity = { whoAmI: async () => "system:serviceaccount:cicd:release-manager" };
    expect(await runApprove({ state: world.store(), identity, clock: { now: () => world.now } }, B, (t) => out.push(t))).toBe(0);
    expect(world.state.approved).toEqual({ sha: B, by: "system:serviceaccount:cicd:release-manager", at: world.now.toISOString() });
    expect(out.join("")).toMatch(/^Approved b{40} as system:serviceaccount:cicd:release-manager at /);
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: B });
    // The record of who approved the deployed commit stays.
    expect(world.state.approved?.sha).toBe(B);
  });

  it("approve takes the full SHA only: a prefix could match a commit ground to look like the reviewed one", async () => {
    const world = await deployedA();
    const deps = { state: world.store(), identity: { whoAmI: async () => "ada" }, clock: { now: () => world.now } };
    world.calls = [];
    await expect(runApprove(deps, B.slice(0, 12), () => {})).rejects.toThrow(/is an abbreviated SHA; an approval names the full 40-character commit SHA/);
    await expect(runApprove(deps, "main", () => {})).rejects.toThrow(/is not a commit SHA/);
    expect(world.calls).toEqual([]);
    await runApprove(deps, C, () => {});
    expect(world.calls).toEqual(["state.read", "state.write"]);
  });

  it("a freeze holds the deploy and says until when; one that begins while the image builds holds its deploy", async () => {
    const world = await deployedA();
    const policy: GatePolicy = { ...NO_GATES, freeze: FREEZE };
    world.now = new Date("2026-11-20T17:00:00Z"); // Friday 18:00 in Berlin
    expect(await sync(world, policy)).toEqual({ kind: "waiting", sha: B, gate: "freeze", reason: 'deploy freeze "0 17 * * FRI 63h Europe/Berlin" until 2026-11-23T07:00:00.000Z', until: "2026-11-23T07:00:00.000Z" });
    expect(world.jobsCreated).toHaveLength(1);
    world.now = new Date("2026-11-23T07:00:00Z");
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: B });

    world.setHead(C);
    world.now = new Date("2026-11-27T15:55:00Z"); // Friday 16:55 in Berlin; the build takes 10 minutes
    world.buildResult = () => {
      world.advance(600);
      return "succeed";
    };
    expect(await sync(world, policy)).toMatchObject({ kind: "waiting", gate: "freeze", until: "2026-11-30T07:00:00.000Z" });
    // The gate is asked before each step: the finished Job is left to be recorded after the freeze.
    expect(world.jobs.get("build-shop-cccccccccccc-1")?.phase).toBe("succeeded");
    expect(world.helmDeploys).toEqual([A, B]);
    world.now = new Date("2026-11-30T07:00:00Z");
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: C });
    expect(world.jobsCreated).toHaveLength(3); // A, B, C: C's image was not built again
  });

  it("plan names the gate that holds the head and changes nothing", async () => {
    const world = await deployedA();
    const writes = world.stateWrites;
    const planned = await plannedAction(passContext(world.ports(), { policy: { ...NO_GATES, approval: true } }));
    expect(planned).toEqual({ recorded: false, action: { kind: "hold", sha: B, gate: "approval", reason: `waiting for approval: \`ci-runner approve ${B}\`` }, state: world.state });
    expect(world.stateWrites).toBe(writes);
  });
});

describe("a commit rolled back stays set aside, with every gate", () => {
  // B's chart never becomes ready: helm rolls it back on every attempt until it is set aside.
  const gates: [string, GatePolicy, (w: FakeWorld) => void][] = [
    ["no gate", NO_GATES, () => {}],
    ["skip markers", { ...NO_GATES, skipMarkers: true }, (w) => w.commits.set(B, { message: "feat: x", authorName: "Ada", authorEmail: "a@x" })],
    ["bot authors", { ...NO_GATES, skipAuthors: ["renovate[bot]"] }, (w) => w.commits.set(B, { message: "feat: x", authorName: "Ada", authorEmail: "a@x" })],
    ["path filter (chart-only change)", PATHS, (w) => w.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["chart/values.yaml"] })],
    ["checks", { ...NO_GATES, checks: { kind: "all" } }, (w) => { w.checkRuns.set(B, [check("test", "success")]); w.statuses.set(B, []); }],
    ["approval", { ...NO_GATES, approval: true }, () => {}],
    ["freeze windows (none in force)", { ...NO_GATES, freeze: FREEZE }, () => {}],
    ["every gate", EVERY, (w) => {
      w.commits.set(B, { message: "feat: x", authorName: "Ada", authorEmail: "a@x" });
      w.compares.set(`${A}...${B}`, { complete: true, base: A, files: ["src/x.ts"] });
      w.checkRuns.set(B, [check("test", "success")]);
      w.statuses.set(B, []);
    }],
  ];

  it.each(gates)("%s", async (_name, policy, setup) => {
    const world = await deployedA(policy);
    setup(world);
    world.deployResult = () => (world.head === B ? "fail" : "succeed");
    const outcomes = [];
    for (let tick = 0; tick < 3; tick++) outcomes.push((await sync(world, policy)).kind);
    expect(outcomes).toEqual(["attempt-failed", "attempt-failed", "set-aside"]);
    expect(world.state.deployed?.sha).toBe(A);
    // Every gate now says yes (approved again, checks green, no freeze): still set aside, no helm.
    world.state = { ...world.state, approved: { sha: B, by: "ada", at: world.now.toISOString() } };
    const deploys = world.helmDeploys.length;
    for (let tick = 0; tick < 2; tick++) expect((await sync(world, policy)).kind).toBe("set-aside");
    expect(world.helmDeploys).toHaveLength(deploys);
    // A newer commit is tried (and here deploys), ending the set-aside.
    world.setHead(C);
    world.deployResult = () => "succeed";
    world.commits.set(C, { message: "fix", authorName: "Ada", authorEmail: "a@x" });
    world.compares.set(`${A}...${C}`, { complete: true, base: A, files: ["src/fix.ts"] });
    world.checkRuns.set(C, [check("test", "success")]);
    world.statuses.set(C, []);
    if (policy.approval) world.state = { ...world.state, approved: { sha: C } };
    expect(await sync(world, policy)).toMatchObject({ kind: "deployed", sha: C });
    expect(world.state.setAside).toBeUndefined();
  });
});
