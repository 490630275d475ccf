import { describe, expect, it } from "vitest";
import { runRetry } from "../../src/commands/retry.ts";
import { runPass } from "../../src/reconcile/pass.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";
import { passContext } from "../support/pass-context.ts";

const A = sha("a");
const B = sha("b");
const C = sha("c");
const VERIFY = { verify: { helmTest: true } } as const;

/** A world where A was deployed and verified at revision 1, and B is the new head. */
async function verifiedA(): Promise<FakeWorld> {
  const world = new FakeWorld();
  expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "deployed", sha: A, revision: 1, verified: true });
  world.setHead(B);
  return world;
}

describe("VERIFY=helm-test: a deployed commit counts once its chart's tests pass", () => {
  it("passing tests: deployed, then verified, in the same pass; the idle tick after asks nothing of helm", async () => {
    const world = await verifiedA();
    expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "deployed", sha: B, revision: 2, verified: true });
    expect(world.helmTests).toEqual([A, B]);
    expect(world.state.verified).toMatchObject({ sha: B, revision: 2 });
    expect(world.state.verifying).toBeUndefined();
    world.calls.length = 0;
    expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "up-to-date", sha: B });
    expect(world.calls).toEqual(["state.read", "github.branchHead"]);
  });

  it("failing tests on a Ready release: rolled back to the last verified commit's revision, set aside at once, told as a verify failure", async () => {
    const world = await verifiedA();
    world.testResult = (tag) => (tag === B ? "fail" : "pass");
    const outcome = await runPass(passContext(world.ports(), VERIFY));
    expect(outcome).toMatchObject({ kind: "set-aside", sha: B });
    expect(world.helmRollbacks).toEqual([1]);
    expect(world.release).toEqual({ status: "deployed", revision: 3, imageTag: A });
    expect(world.state.deployed).toMatchObject({ sha: A, revision: 3 });
    expect(world.state.verified).toMatchObject({ sha: A, revision: 3 });
    expect(world.state.setAside?.reason).toMatch(/^checks failed: helm test of shop failed: .*"GET \/ 500"/);
    expect(world.transitions.at(-1)).toMatchObject({ kind: "attempt-failed", sha: B, phase: "verify", setAside: true, rolledBack: true });
    // The next tick leaves B alone; a newer commit is deployed and verified again.
    expect(await runPass(passContext(world.ports(), VERIFY))).toMatchObject({ kind: "set-aside", sha: B });
    world.setHead(C);
    expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "deployed", sha: C, revision: 4, verified: true });
  });

  it("the rollback goes to the last verified commit, not to the previous revision", async () => {
    const world = await verifiedA();
    // B deployed while checks were off: deployed, never verified.
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "deployed", sha: B, revision: 2 });
    world.setHead(C);
    world.testResult = (tag) => (tag === C ? "fail" : "pass");
    await runPass(passContext(world.ports(), VERIFY));
    expect(world.helmRollbacks).toEqual([1]);
    expect(world.release.imageTag).toBe(A);
  });

  it("failing tests with nothing verified to roll back to: the commit stays running and set aside, and the next pass does not call it up to date", async () => {
    const world = new FakeWorld();
    world.testResult = () => "fail";
    const outcome = await runPass(passContext(world.ports(), VERIFY));
    expect(outcome).toMatchObject({ kind: "set-aside", sha: A });
    expect(world.helmRollbacks).toEqual([]);
    expect(world.state.setAside?.reason).toContain("no verified commit to roll back to, so the release stays at");
    expect(await runPass(passContext(world.ports(), VERIFY))).toMatchObject({ kind: "set-aside", sha: A });
    // `ci-runner retry` of that running commit runs its checks again; it is not left "up to date" unverified.
    expect(await runRetry(world.store(), undefined, () => undefined)).toBe(0);
    world.testResult = () => "pass";
    expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "deployed", sha: A, revision: 1, verified: true });
    expect(world.helmDeploys).toEqual([A]);
  });

  it("VERIFY turned off while a commit's checks were unfinished: they are dropped, not run", async () => {
    const world = await verifiedA();
    world.testResult = () => { throw new Error("killed"); };
    await expect(runPass(passContext(world.ports(), VERIFY))).rejects.toThrow("killed");
    const tests = world.helmTests.length;
    expect(await runPass(passContext(world.ports()))).toEqual({ kind: "up-to-date", sha: B });
    expect(world.helmTests.length).toBe(tests);
    expect(world.state.verifying).toBeUndefined();
    expect(world.helmRollbacks).toEqual([]);
  });

  it("killed after deploying, before the tests: the next tick runs them, and builds and deploys nothing", async () => {
    const world = await verifiedA();
    world.testResult = () => { throw new Error("killed"); };
    await expect(runPass(passContext(world.ports(), VERIFY))).rejects.toThrow("killed");
    expect(world.state.verifying).toEqual({ sha: B, revision: 2 });
    world.testResult = () => "pass";
    const deploys = world.helmDeploys.length;
    expect(await runPass(passContext(world.ports(), VERIFY))).toEqual({ kind: "deployed", sha: B, revision: 2, verified: true });
    expect(world.helmDeploys.length).toBe(deploys);
  });

  it("killed after the rollback, before its record: the next tick records the failure without a second rollback", async () => {
    const world = await verifiedA();
    world.testResult = (tag) => (tag === B ? "fail" : "pass");
    const observe = world.ports().releases.observe;
    let rolledBack = false;
    const ports = { ...world.ports(), releases: { ...world.ports().releases, observe: async () => { if (world.helmRollbacks.length > 0 && !rolledBack) { rolledBack = true; throw new Error("killed"); } return observe(); } } };
    await expect(runPass(passContext(ports, VERIFY))).rejects.toThrow("killed");
    expect(world.state.verifying?.sha).toBe(B);
    expect(await runPass(passContext(world.ports(), VERIFY))).toMatchObject({ kind: "set-aside", sha: B });
    expect(world.helmRollbacks).toEqual([1]);
    expect(world.state.deployed).toMatchObject({ sha: A, revision: 3 });
    expect(world.state.setAside?.reason).toContain("the release left revision 2 before the checks of");
  });
});
