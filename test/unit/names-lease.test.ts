import { describe, expect, it } from "vitest";
import { buildJobName, buildLabels, targetSelector } from "../../src/names.ts";
import { viewLease, withLease, withoutLease } from "../../src/reconcile/lease.ts";

const A = "0123456789abcdef0123456789abcdef01234567";

describe("names", () => {
  it("is deterministic per SHA and attempt", () => {
    expect(buildJobName("shop", A, 1)).toBe("build-shop-0123456789ab-1");
    expect(buildJobName("shop", A, 2)).not.toBe(buildJobName("shop", A, 1));
    expect(buildJobName("shop", A, 1)).toBe(buildJobName("shop", A, 1));
  });

  it("stays a valid 63-character name for the longest release", () => {
    const name = buildJobName(`${"a".repeat(51)}-b`, A, 100);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(name.endsWith("-0123456789ab-100")).toBe(true);
  });

  it("labels carry the full SHA and select one target", () => {
    expect(buildLabels("shop", A, 2)).toEqual({ "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": A, "ci-runner.dev/attempt": "2" });
    expect(targetSelector("shop")).toBe("app.kubernetes.io/managed-by=ci-runner,ci-runner.dev/target=shop");
  });
});

describe("lease", () => {
  const now = new Date("2026-11-21T12:00:00Z");
  it.each([
    ["no lease", {}, "free"],
    ["our lease", withLease({}, "me", now, 45), "ours"],
    ["another's lease", withLease({}, "you", now, 45), "busy"],
    ["another's expired lease", withLease({}, "you", new Date(now.getTime() - 46_000), 45), "free"],
  ] as const)("%s is %s", (_name, state, kind) => {
    expect(viewLease(state, "me", now).kind).toBe(kind);
  });

  it("is dropped on release", () => {
    expect(withoutLease(withLease({ head: { sha: A, etag: "e" } }, "me", now, 45))).toEqual({ head: { sha: A, etag: "e" } });
  });
});
