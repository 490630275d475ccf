import { describe, expect, it } from "vitest";
import { decodeState, encodeState, PREFIX } from "../../src/adapters/state/codec.ts";
import type { RunnerState } from "../../src/reconcile/types.ts";

const A = "a".repeat(40);
const DIGEST = `sha256:${"d".repeat(64)}`;

const full: RunnerState = {
  deployed: { sha: A, at: "2026-11-21T12:00:00.000Z", digest: DIGEST, revision: 4 },
  built: { sha: A, digest: DIGEST },
  attempts: { sha: A, failures: 2, since: 1 },
  setAside: { sha: A, reason: "failed 3 of 3 attempts" },
  lastError: { sha: A, message: "helm: timed out", at: "2026-11-21T12:01:00.000Z" },
  head: { sha: A, etag: 'W/"abc"' },
  lease: { holder: "pod-1/7", expiresAt: "2026-11-21T12:02:00.000Z" },
};

function strip(annotations: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter((e): e is [string, string] => e[1] !== null));
}

describe("state annotations", () => {
  it("round-trips every field", () => {
    expect(decodeState(strip(encodeState(full)))).toEqual({ state: full, warnings: [] });
  });

  it("writes null for absent fields so a merge patch removes them", () => {
    const encoded = encodeState({ head: { sha: A, etag: "x" } });
    expect(encoded[`${PREFIX}head-sha`]).toBe(A);
    expect(encoded[`${PREFIX}deployed-sha`]).toBeNull();
    expect(encoded[`${PREFIX}lease-holder`]).toBeNull();
  });

  it("treats a malformed group as absent and says which annotations", () => {
    const annotations = { ...strip(encodeState(full)), [`${PREFIX}deployed-sha`]: "not-a-sha", [`${PREFIX}attempt-failures`]: "many" };
    const { state, warnings } = decodeState(annotations);
    expect(state.deployed).toBeUndefined();
    expect(state.attempts).toBeUndefined();
    expect(state.setAside).toEqual(full.setAside);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/ci-runner.dev\/deployed-sha.*malformed.*treated as absent/);
  });

  it("treats a half-written group as absent", () => {
    const { state, warnings } = decodeState({ [`${PREFIX}lease-holder`]: "x" });
    expect(state.lease).toBeUndefined();
    expect(warnings[0]).toMatch(/lease-expires/);
  });

  it("ignores other annotations and an empty ConfigMap", () => {
    expect(decodeState({ "kubectl.kubernetes.io/last-applied-configuration": "{}" })).toEqual({ state: {}, warnings: [] });
    expect(decodeState(undefined)).toEqual({ state: {}, warnings: [] });
  });
});
