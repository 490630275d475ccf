import { gateAction, pathVerdict } from "./gates.ts";
import type { Action, Observation, RunnerState } from "./types.ts";

/**
 * A pending revision lives at most HELM_TIMEOUT (helm then marks it failed, and an atomic rollback
 * starts a revision of its own); this margin covers helm's last API calls and clock skew between
 * the host that ran helm and us.
 */
export const HELM_MARGIN_SECONDS = 30;

/** False when the head needs no work: the idle tick stops here without observing anything else. */
export function headNeedsWork(head: string, state: RunnerState): boolean {
  return state.deployed?.sha !== head && state.setAside?.sha !== head && state.seen?.sha !== head;
}

/** Failed attempts so far for `sha` (0 when the counter belongs to another commit). */
export function failuresFor(sha: string, state: RunnerState): number {
  return state.attempts?.sha === sha ? state.attempts.failures : 0;
}

/** Attempts `sha` has used since it was last granted new ones by `ci-runner retry`. */
function usedSinceRetry(sha: string, state: RunnerState, failures: number): number {
  return failures - (state.attempts?.sha === sha ? (state.attempts.since ?? 0) : 0);
}

/**
 * What the head's record and its gates decide before any work is observed: idle (deployed, set
 * aside, seen), a gate's action (record as seen, hold, set aside), or undefined: on to the work.
 * A head set aside stays so whatever the gates say (an approval, green checks or the end of a
 * freeze never bring it back): only a newer commit or `ci-runner retry` does.
 */
export function decideGates(obs: Observation): Action | undefined {
  const { head, state } = obs;
  if (state.deployed?.sha === head) return { kind: "up-to-date", sha: head };
  if (state.setAside?.sha === head) return { kind: "skip-set-aside", sha: head, reason: state.setAside.reason };
  if (state.seen?.sha === head) return { kind: "skipped", sha: head, reason: state.seen.reason };
  return gateAction(obs);
}

/**
 * The one next step for what was observed. Pure: same observation, same action.
 * Order matters: the gates come first; a release stuck mid-operation blocks everything; a release
 * that already runs the head was deployed by a run killed before it could record it; a known image
 * skips the build; a change to the chart alone reuses the image the release runs.
 */
export function decide(obs: Observation): Action {
  const gated = decideGates(obs);
  if (gated !== undefined) return gated;
  const { head, state } = obs;

  const work = obs.work;
  if (work === undefined) throw new Error("decide: head needs work but work was not observed");
  const failures = failuresFor(head, state);
  const attempt = failures + 1;
  const lastAttempt = usedSinceRetry(head, state, attempt) >= obs.maxRetries;
  if (usedSinceRetry(head, state, failures) >= obs.maxRetries) {
    // MAX_RETRIES was lowered below the failures already counted: set aside without another try.
    return { kind: "record-failure", sha: head, attempt: failures, message: state.lastError?.message ?? "retries exhausted", setAside: true };
  }

  const { release, build } = work;
  if (release.status.startsWith("pending-") || release.status === "uninstalling") {
    // Someone's helm may still be running (a person's, or ours before a kill): only a pending
    // release older than any helm of ours could take is left over and safe to repair.
    const since = release.updatedAt === undefined ? Number.NaN : Date.parse(release.updatedAt);
    const until = since + (obs.helmTimeoutSeconds + HELM_MARGIN_SECONDS) * 1000;
    if (Number.isFinite(since) && Date.parse(obs.now) < until) {
      return { kind: "release-busy", status: release.status, since: new Date(since).toISOString(), until: new Date(until).toISOString() };
    }
    return { kind: "repair-release", status: release.status, revision: release.revision };
  }
  if (release.status === "deployed" && release.imageTag === head) {
    // Whatever knows the image's digest: our record, the build Job not yet deleted, the registry.
    const recorded = state.built?.sha === head ? state.built.digest : undefined;
    const digest = recorded ?? (build?.phase === "succeeded" ? build.digest : undefined) ?? work.registryDigest;
    return { kind: "record-deployed", sha: head, revision: release.revision, digest };
  }
  if (state.built?.sha === head) return { kind: "deploy", sha: head, attempt, digest: state.built.digest, lastAttempt };
  const paths = pathVerdict(obs.policy, obs, obs.gates?.changes);
  if (paths.kind === "reuse-image") return { kind: "deploy", sha: head, attempt, digest: paths.digest, lastAttempt, imageSha: paths.imageSha };

  if (build !== undefined) {
    switch (build.phase) {
      case "succeeded":
        if (build.digest !== undefined) return { kind: "record-build", sha: head, attempt, digest: build.digest, job: build.name, startedAt: build.startedAt };
        return failure(head, attempt, lastAttempt, "build Job succeeded but reported no image digest");
      case "failed":
        return failure(head, attempt, lastAttempt, build.reason ?? "build Job failed");
      case "running":
        return { kind: "await-build", sha: head, attempt, job: build.name };
    }
  }
  if (work.registryDigest !== undefined) return { kind: "deploy", sha: head, attempt, digest: work.registryDigest, lastAttempt };
  return { kind: "start-build", sha: head, attempt };
}

function failure(sha: string, attempt: number, setAside: boolean, message: string): Action {
  return { kind: "record-failure", sha, attempt, message, setAside };
}
