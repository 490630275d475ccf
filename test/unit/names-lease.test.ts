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

  it("stays unique per target when it shortens: two releases with one long prefix never share a Job", () => {
    const base = "payments-service-of-the-checkout-team-europe";
    const names = [`${base}-blue`, `${base}-green`, `${base}-b`, `${base}-bl`].flatMap((release) => [1, 100].map((attempt) => buildJobName(release, A, attempt)));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(name).toMatch(/^build-payments-service/);
    }
  });

  it("keeps short names readable and hash-free", () => {
    const release = "a".repeat(42); // the longest release whose name fits unshortened at attempt 1
    expect(buildJobName(release, A, 1)).toBe(`build-${release}-0123456789ab-1`);
  });

  it("labels carry the full SHA and select one target", () => {
    expect(buildLabels("shop", A, 2)).toEqual({ "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": A, "ci-runner.dev/attempt": "2" });
    for (const [key, value] of Object.entries(buildLabels("a".repeat(53), A, 100))) {
      expect(value.length, key).toBeLessThanOrEqual(63);
      expect(value, key).toMatch(/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/);
    }
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
