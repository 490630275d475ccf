import { describe, expect, it } from "vitest";
import { allReporters } from "../../src/adapters/report/fan-out.ts";
import { runPass } from "../../src/reconcile/pass.ts";
import { FakeWorld, sha } from "../support/fake-world.ts";
import { passContext, testLog } from "../support/pass-context.ts";

const A = sha("a");

describe("transitions told to the reporter", () => {
  it("a build and deploy tell their story in order", async () => {
    const world = new FakeWorld();
    await runPass(passContext(world.ports()));
    expect(world.transitions.map((t) => t.kind)).toEqual(["build-started", "build-succeeded", "deploy-started", "deployed"]);
    expect(world.transitions.at(-1)).toMatchObject({ sha: A, attempt: 1, revision: 1, digest: `sha256:${"a".repeat(64)}` });
  });

  it("a failed build is an attempt-failed of the build phase, the last one setting the commit aside", async () => {
    const world = new FakeWorld();
    world.buildResult = () => "fail";
    for (let tick = 0; tick < 2; tick++) await runPass(passContext(world.ports(), { maxRetries: 2 }));
    const failed = world.transitions.filter((t) => t.kind === "attempt-failed");
    expect(failed).toEqual([
      { kind: "attempt-failed", sha: A, attempt: 1, phase: "build", message: "build pod exited with code 1", setAside: false, rolledBack: false },
      { kind: "attempt-failed", sha: A, attempt: 2, phase: "build", message: "build pod exited with code 1", setAside: true, rolledBack: false },
    ]);
  });

  it("a receiver that throws or hangs never fails or holds the pass", async () => {
    const lines: string[] = [];
    const told: string[] = [];
    const reporter = allReporters([
      { name: "broken", report: async () => { throw new Error("receiver down"); } },
      { name: "fine", report: async (t) => void told.push(t.kind) },
    ], testLog(lines));
    await reporter.report({ kind: "lease-contention", holder: "x/1", expiresAt: "2026-11-22T00:00:00Z" });
    expect(told).toEqual(["lease-contention"]);
    expect(lines.join("\n")).toContain("Could not report a transition; the pass goes on");
  });
});
