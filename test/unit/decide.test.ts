import { describe, expect, it } from "vitest";
import { decide, recorded } from "../../src/reconcile/decide.ts";
import { NO_GATES } from "../../src/reconcile/gates.ts";
import type { Action, BuildObservation, Observation, ReleaseObservation, Rules, RunnerState, WorkObservation } from "../../src/reconcile/types.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const DIGEST = `sha256:${"d".repeat(64)}`;
const AT = "2026-11-21T12:00:00.000Z";
const NOW = "2026-11-21T12:10:00.000Z";
const absent: ReleaseObservation = { status: "absent" };
const deployedB: ReleaseObservation = { status: "deployed", revision: 3, imageTag: B };
const VERIFIED_B = { sha: B, at: AT, digest: DIGEST, revision: 3 };

function job(phase: BuildObservation["phase"], extra: Partial<BuildObservation> = {}): BuildObservation {
  return { name: `build-shop-${A.slice(0, 12)}-1`, sha: A, attempt: 1, phase, ...extra };
}

/** One row's input: what was observed, and the rules decide reads beside it. */
interface Case {
  readonly observation: Observation;
  readonly rules: Rules;
}

function obs(state: RunnerState, work?: Partial<WorkObservation>, maxRetries = 3): Case {
  return {
    observation: {
      head: A,
      state,
      now: NOW,
      gates: {},
      ...(work ? { work: { release: absent, build: undefined, registryDigest: undefined, ...work } } : {}),
    },
    rules: { maxRetries, helmTimeoutSeconds: 300, policy: NO_GATES, verify: { helmTest: false } },
  };
}

const rows: [string, Case, Action][] = [
  ["head already deployed", obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 1 } }), { kind: "up-to-date", sha: A }],
  ["head set aside", obs({ setAside: { sha: A, reason: "failed 3 of 3" } }), { kind: "skip-set-aside", sha: A, reason: "failed 3 of 3" }],
  ["new head, nothing known: build attempt 1", obs({}, {}), { kind: "start-build", sha: A, attempt: 1 }],
  ["new head after 2 failures: build attempt 3", obs({ attempts: { sha: A, failures: 2 } }, {}), { kind: "start-build", sha: A, attempt: 3 }],
  ["failures of an older commit do not count", obs({ attempts: { sha: B, failures: 2 } }, {}), { kind: "start-build", sha: A, attempt: 1 }],
  ["build running: await it", obs({}, { build: job("running") }), { kind: "await-build", sha: A, attempt: 1, job: job("running").name }],
  ["build succeeded: record the digest", obs({}, { build: job("succeeded", { digest: DIGEST }) }), { kind: "record-build", sha: A, attempt: 1, digest: DIGEST, job: job("running").name, startedAt: undefined }],
  ["build succeeded without digest: a failed attempt", obs({}, { build: job("succeeded") }),
    { kind: "record-failure", sha: A, attempt: 1, message: "build Job succeeded but reported no image digest", setAside: false }],
  ["build failed, retries left", obs({}, { build: job("failed", { reason: "exit 1" }) }), { kind: "record-failure", sha: A, attempt: 1, message: "exit 1", setAside: false }],
  ["build failed on the last attempt: set aside", obs({ attempts: { sha: A, failures: 2 } }, { build: job("failed", { attempt: 3, reason: "exit 1" }) }),
    { kind: "record-failure", sha: A, attempt: 3, message: "exit 1", setAside: true }],
  ["image already built by us: deploy", obs({ built: { sha: A, digest: DIGEST } }, {}), { kind: "deploy", sha: A, attempt: 1, digest: DIGEST, lastAttempt: false }],
  ["an image in the registry that no record vouches for is built again, never deployed", obs({}, { registryDigest: DIGEST }), { kind: "start-build", sha: A, attempt: 1 }],
  ["deploy on the last attempt is marked so", obs({ built: { sha: A, digest: DIGEST }, attempts: { sha: A, failures: 2 } }, {}),
    { kind: "deploy", sha: A, attempt: 3, digest: DIGEST, lastAttempt: true }],
  ["release already runs the head, state lost, build Job still there: record with the Job's digest",
    obs({}, { release: { status: "deployed", revision: 2, imageTag: A }, build: job("succeeded", { digest: DIGEST }), registryDigest: undefined }),
    { kind: "record-deployed", sha: A, revision: 2, digest: DIGEST }],
  ["release already runs the head, no Job: record with the registry's digest",
    obs({}, { release: { status: "deployed", revision: 2, imageTag: A }, registryDigest: DIGEST }),
    { kind: "record-deployed", sha: A, revision: 2, digest: DIGEST }],
  ["release pending-upgrade blocks everything: repair", obs({ built: { sha: A, digest: DIGEST } }, { release: { status: "pending-upgrade", revision: 4 } }),
    { kind: "repair-release", status: "pending-upgrade", revision: 4 }],
  ["pending-upgrade older than HELM_TIMEOUT + margin (5.5 min): repair", obs({}, { release: { status: "pending-upgrade", revision: 4, updatedAt: "2026-11-21T12:04:29.000Z" } }),
    { kind: "repair-release", status: "pending-upgrade", revision: 4 }],
  ["pending-upgrade younger than that (someone's helm may still run): busy, never rolled back", obs({}, { release: { status: "pending-upgrade", revision: 4, updatedAt: "2026-11-21T12:04:30.123456789Z" } }),
    { kind: "release-busy", status: "pending-upgrade", since: "2026-11-21T12:04:30.123Z", until: "2026-11-21T12:10:00.123Z" }],
  ["pending-install just now: busy", obs({}, { release: { status: "pending-install", revision: 1, updatedAt: NOW } }),
    { kind: "release-busy", status: "pending-install", since: NOW, until: "2026-11-21T12:15:30.000Z" }],
  ["release pending-install: repair", obs({}, { release: { status: "pending-install", revision: 1 } }), { kind: "repair-release", status: "pending-install", revision: 1 }],
  ["release pending-rollback: repair", obs({}, { release: { status: "pending-rollback", revision: 5 } }), { kind: "repair-release", status: "pending-rollback", revision: 5 }],
  ["release uninstalling: repair", obs({}, { release: { status: "uninstalling", revision: 2 } }), { kind: "repair-release", status: "uninstalling", revision: 2 }],
  ["release already runs the head (killed before record): record", obs({ built: { sha: A, digest: DIGEST } }, { release: { status: "deployed", revision: 4, imageTag: A } }),
    { kind: "record-deployed", sha: A, revision: 4, digest: DIGEST }],
  ["release runs the head, digest from the registry", obs({}, { release: { status: "deployed", revision: 4, imageTag: A }, registryDigest: DIGEST }),
    { kind: "record-deployed", sha: A, revision: 4, digest: DIGEST }],
  ["release runs an older commit: that is not ours to record", obs({}, { release: deployedB }), { kind: "start-build", sha: A, attempt: 1 }],
  ["failed release of the head is not deployed", obs({ built: { sha: A, digest: DIGEST } }, { release: { status: "failed", revision: 2, imageTag: A } }),
    { kind: "deploy", sha: A, attempt: 1, digest: DIGEST, lastAttempt: false }],
  ["a pending release 'deployed' in the future (a forged record) is repaired, not waited for", obs({}, { release: { status: "pending-upgrade", revision: 999, updatedAt: "2099-01-01T00:00:00Z" } }),
    { kind: "repair-release", status: "pending-upgrade", revision: 999 }],
  ["a deploy begun and never recorded (the runner died in it) is a failed attempt, counted", obs({ built: { sha: A, digest: DIGEST }, deploying: { sha: A, attempt: 1 } }, {}),
    { kind: "record-failure", sha: A, attempt: 1, message: "the deploy of attempt 1 did not finish: the runner stopped while it ran (killed, or out of memory)", setAside: false }],
  ["a begun deploy of an older attempt says nothing about this one", obs({ built: { sha: A, digest: DIGEST }, deploying: { sha: A, attempt: 1 }, attempts: { sha: A, failures: 1 } }, {}),
    { kind: "deploy", sha: A, attempt: 2, digest: DIGEST, lastAttempt: false }],
  ["MAX_RETRIES lowered below the failures counted: set aside", obs({ attempts: { sha: A, failures: 3 }, lastError: { sha: A, message: "boom", at: AT } }, {}, 2),
    { kind: "record-failure", sha: A, attempt: 3, message: "boom", setAside: true }],
  ["after `retry`, attempts count from the retry", obs({ attempts: { sha: A, failures: 3, since: 3 } }, {}), { kind: "start-build", sha: A, attempt: 4 }],
  ["after `retry`, the third new failure sets aside again", obs({ attempts: { sha: A, failures: 5, since: 3 } }, { build: job("failed", { attempt: 6, reason: "exit 1" }) }),
    { kind: "record-failure", sha: A, attempt: 6, message: "exit 1", setAside: true }],
  // VERIFY: a deployed commit with its checks to run. B was the last verified commit, at revision 3.
  ["deployed, checks to run: verify against the revision that deployed it, rolling back to the last verified",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 4 }, verifying: { sha: A, revision: 4 }, verified: VERIFIED_B }, { release: { status: "deployed", revision: 4, imageTag: A } }),
    { kind: "verify", sha: A, attempt: 1, revision: 4, rollbackTo: VERIFIED_B }],
  ["deployed, checks to run, nothing verified yet: verify with nothing to roll back to",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 1 }, verifying: { sha: A, revision: 1 } }, { release: { status: "deployed", revision: 1, imageTag: A } }),
    { kind: "verify", sha: A, attempt: 1, revision: 1, rollbackTo: undefined }],
  ["checks to run, but the release moved back to the verified commit (a run killed after its rollback): lost, no second rollback",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 4 }, verifying: { sha: A, revision: 4 }, verified: VERIFIED_B }, { release: { status: "deployed", revision: 5, imageTag: B } }),
    { kind: "verify-lost", sha: A, attempt: 1, revision: 4, release: { status: "deployed", revision: 5, imageTag: B }, rollbackTo: VERIFIED_B, runsVerified: true }],
  ["checks to run, and the release moved to something else (a repair re-ran the head): lost, roll back to the verified commit",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 4 }, verifying: { sha: A, revision: 4 }, verified: VERIFIED_B }, { release: { status: "deployed", revision: 6, imageTag: A } }),
    { kind: "verify-lost", sha: A, attempt: 1, revision: 4, release: { status: "deployed", revision: 6, imageTag: A }, rollbackTo: VERIFIED_B, runsVerified: false }],
  ["checks to run while the release is pending (killed mid-rollback): repair first",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 4 }, verifying: { sha: A, revision: 4 }, verified: VERIFIED_B }, { release: { status: "pending-rollback", revision: 5 } }),
    { kind: "repair-release", status: "pending-rollback", revision: 5 }],
  ["checks failed with nothing to roll back to: the running head is set aside, not up to date",
    obs({ deployed: { sha: A, at: AT, digest: DIGEST, revision: 1 }, setAside: { sha: A, reason: "checks failed" } }), { kind: "skip-set-aside", sha: A, reason: "checks failed" }],
];

describe("decide", () => {
  it.each(rows)("%s", (_name, c, expected) => {
    expect(decide(c.observation, c.rules)).toEqual(expected);
  });

  it("refuses to decide work it was not shown", () => {
    const c = obs({});
    expect(() => decide(c.observation, c.rules)).toThrow(/work was not observed/);
  });

  it("an idle head needs no further observation", () => {
    expect(recorded(A, { deployed: { sha: A, at: AT, digest: undefined, revision: undefined } })).toEqual({ kind: "up-to-date", sha: A });
    expect(recorded(A, { setAside: { sha: A, reason: "x" } })).toEqual({ kind: "skip-set-aside", sha: A, reason: "x" });
    expect(recorded(A, { seen: { sha: A, reason: "x" } })).toEqual({ kind: "skipped", sha: A, reason: "x" });
    expect(recorded(A, { deployed: { sha: B, at: AT, digest: undefined, revision: undefined } })).toBeUndefined();
  });
});
