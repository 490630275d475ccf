import { describe, expect, it } from "vitest";
import { exitCodeFor, LeaseLost } from "../../src/errors.ts";
import { LeasedState } from "../../src/reconcile/leased-state.ts";
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
    const error = await runPass(passContext(stalled, { leaseSeconds: 0.4 })).catch((e: unknown) => e);
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
      builds: { ...ports.builds, wait: async (name, fence) => { await new Promise((r) => setTimeout(r, 2_500)); return ports.builds.wait(name, fence); } },
    };
    // Renewed every 0.5 s, fenced 1.5 s after the last one: a build of 2.5 s outlives the lease,
    // with room for a loaded machine's timer delays.
    expect(await runPass(passContext(slow, { leaseSeconds: 2 }))).toMatchObject({ kind: "deployed" });
    expect(world.helmDeploys).toHaveLength(1);
  });
});

describe("the fence counts from the expiry a renewal recorded", () => {
  it("a slow renewal cannot push the fence past the lease", async () => {
    const world = new FakeWorld();
    const store = world.ports().state;
    const clock = { now: () => new Date() };
    // Every write takes 500 ms to come back, as on a loaded API server.
    const slow = { read: () => store.read(), write: async (next: Parameters<typeof store.write>[0], rv: string | undefined) => { await new Promise((r) => setTimeout(r, 500)); return store.write(next, rv); } };
    const leased = await LeasedState.acquire(slow, "me/1", clock, 2, await store.read());
    if (!(leased instanceof LeasedState)) throw new Error("lease not taken");
    const started = Date.now();
    const fenced = new Promise<number>((resolve) => leased.fence.addEventListener("abort", () => resolve(Date.now() - started)));
    await leased.update((s) => s);
    // The renewal recorded an expiry 2 s after it started: the fence falls a quarter of the lease
    // before that (1.5 s), not 1.5 s after the slow answer came back (2.0 s: the lease's end).
    const after = await fenced;
    expect(after).toBeGreaterThanOrEqual(1_400);
    expect(after).toBeLessThan(1_900);
  });
});
