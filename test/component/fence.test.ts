import { describe, expect, it } from "vitest";
import { exitCodeFor, LeaseLost } from "../../src/errors.ts";
import { runPass } from "../../src/reconcile/pass.ts";
import type { Ports } from "../../src/reconcile/ports.ts";
import { FakeWorld } from "../support/fake-world.ts";
import { passContext } from "../support/pass-context.ts";

/**
 * The lease is a fence: when the API server stops answering mid-build, the run cannot renew its
 * lease, and it must stop acting before the lease could pass to another run.
 */
describe("a pass that cannot renew its lease", () => {
  it("stops waiting for the build, deploys nothing, and ends as transient (exit 3) within the fence time", async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    let writes = 0;
    const stalled: Ports = {
      ...ports,
      // The lease is taken (first write); then the API server stalls: no write ever answers.
      state: { read: () => ports.state.read(), write: (next, rv) => (++writes === 1 ? ports.state.write(next, rv) : new Promise(() => undefined)) },
      builds: {
        ...ports.builds,
        // A long build: only the fence ends the wait.
        wait: (_name, fence) => new Promise((_resolve, reject) => fence.addEventListener("abort", () => reject(fence.reason), { once: true })),
      },
    };
    const started = Date.now();
    const error = await runPass(passContext(stalled, { leaseSeconds: 0.4 }), "sync").catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(LeaseLost);
    expect(exitCodeFor(error)).toBe(3);
    // Three quarters of the lease, not the lease itself and never the build timeout.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    expect(world.helmDeploys).toEqual([]);
    expect(world.calls).not.toContain("builds.remove");
  });

  it("a pass whose renewals succeed is never fenced, however long the build", async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    const slow: Ports = {
      ...ports,
      builds: { ...ports.builds, wait: async (name, fence) => { await new Promise((r) => setTimeout(r, 700)); return ports.builds.wait(name, fence); } },
    };
    expect(await runPass(passContext(slow, { leaseSeconds: 0.4 }), "sync")).toMatchObject({ kind: "deployed" });
    expect(world.helmDeploys).toHaveLength(1);
  });
});
