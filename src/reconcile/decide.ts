import { assertNever } from "./assert-never.ts";
import { failuresFor, usedSinceRetry } from "./attempts.ts";
import { gateAction, type PathVerdict, type Through } from "./gates.ts";
import type { Action, IdleAction, Observation, Rules, RunnerState, WorkObservation } from "./types.ts";

/**
 * A pending revision lives at most HELM_TIMEOUT (helm then marks it failed, and an atomic rollback
 * starts a revision of its own); this margin covers helm's last API calls and clock skew between
 * the host that ran helm and us.
 */
export const HELM_MARGIN_SECONDS = 30;

/**
 * What the head's own record says: deployed, set aside, or seen and not built. The idle tick stops
 * here without observing anything else; undefined means the head needs work.
 */
export function recorded(head: string, state: RunnerState): IdleAction | undefined {
  // Deployed, and its checks (VERIFY) still to run or to finish after a kill.
  if (state.verifying?.sha === head) return undefined;
  // Before "deployed": a commit whose checks failed with nothing verified to roll back to still runs.
  if (state.setAside?.sha === head) return { kind: "skip-set-aside", sha: head, reason: state.setAside.reason };
  if (state.deployed?.sha === head) return { kind: "up-to-date", sha: head };
  if (state.seen?.sha === head) return { kind: "skipped", sha: head, reason: state.seen.reason };
  return undefined;
}

/**
 * What the head's record and its gates decide before any work is observed: idle (deployed, set
 * aside, seen), a gate's action (record as seen, hold, set aside), or Through: on to the work, with
 * the path filter's verdict. A head set aside stays so whatever the gates say (an approval, green
 * checks or the end of a freeze never bring it back): only a newer commit or `ci-runner retry` does.
 */
export function decideGates(obs: Observation, rules: Rules): Action | Through {
  // A commit being verified passed its gates before it was deployed.
  if (obs.state.verifying?.sha === obs.head) return { kind: "through", paths: { kind: "build", why: "deployed; verifying" } };
  return recorded(obs.head, obs.state) ?? gateAction(obs, rules.policy);
}

/**
 * The one next step for a head every gate let through. Pure: same observation, same action.
 * Order matters: a release stuck mid-operation blocks everything; a release that already runs the
 * head was deployed by a run killed before it could record it; an image we recorded skips the
 * build; a change to the chart alone reuses the image the release runs (its digest recorded too).
 */
export function decideWork(obs: Observation, rules: Rules, paths: PathVerdict): Action {
  const { head, state, work } = obs;
  if (work === undefined) throw new Error("decide: head needs work but work was not observed");
  const failures = failuresFor(head, state);
  const attempt = failures + 1;
  const lastAttempt = usedSinceRetry(head, state, attempt) >= rules.maxRetries;
  if (usedSinceRetry(head, state, failures) >= rules.maxRetries) {
    // MAX_RETRIES was lowered below the failures already counted: set aside without another try.
    return { kind: "record-failure", sha: head, attempt: failures, message: state.lastError?.message ?? "retries exhausted", setAside: true };
  }

  const { release, build } = work;
  if (release.status.startsWith("pending-") || release.status === "uninstalling") {
    // Someone's helm may still be running (a person's, or ours before a kill): only a pending
    // release older than any helm of ours could take is left over and safe to repair.
    // A pending release "deployed" in the future (beyond clock skew) is no helm of anyone's: a
    // forged release record, which would hold every tick busy for ever. It is repaired.
    const since = release.updatedAt === undefined ? Number.NaN : Date.parse(release.updatedAt);
    const until = since + (rules.helmTimeoutSeconds + HELM_MARGIN_SECONDS) * 1000;
    const now = Date.parse(obs.now);
    if (Number.isFinite(since) && now < until && since <= now + HELM_MARGIN_SECONDS * 1000) {
      return { kind: "release-busy", status: release.status, since: new Date(since).toISOString(), until: new Date(until).toISOString() };
    }
    return { kind: "repair-release", status: release.status, revision: release.revision };
  }
  if (state.verifying?.sha === head) return verifyStep(head, attempt, state, release);
  if (release.status === "deployed" && release.imageTag === head) {
    // Whatever knows the image's digest: our record, the build Job not yet deleted, the registry.
    const known = state.built?.sha === head ? state.built.digest : undefined;
    const digest = known ?? (build?.phase === "succeeded" ? build.digest : undefined) ?? work.registryDigest;
    return { kind: "record-deployed", sha: head, revision: release.revision, digest };
  }
  if (state.deploying?.sha === head && state.deploying.attempt === attempt) {
    // A run began this deploy and never recorded its end: killed, most likely by running out of
    // memory on the chart. That was this commit's attempt.
    const message = `the deploy of attempt ${attempt} did not finish: the runner stopped while it ran (killed, or out of memory)`;
    return { kind: "record-failure", sha: head, attempt, message, setAside: lastAttempt };
  }
  if (state.built?.sha === head) return { kind: "deploy", sha: head, attempt, digest: state.built.digest, lastAttempt };
  if (paths.kind === "reuse-image") return { kind: "deploy", sha: head, attempt, digest: paths.digest, lastAttempt, imageSha: paths.imageSha };
  if (build !== undefined) return buildStep(head, attempt, lastAttempt, build);
  // An IMAGE:<sha> in the registry that no record of ours vouches for is never deployed: anyone
  // with the push credentials (a Dockerfile's RUN step among them) could have pushed it. Build it.
  return { kind: "start-build", sha: head, attempt };
}

/** The whole decision: the gates, then the work. For `plan` and the table tests; a pass calls the two halves itself. */
export function decide(obs: Observation, rules: Rules): Action {
  const gated = decideGates(obs, rules);
  return gated.kind === "through" ? decideWork(obs, rules, gated.paths) : gated;
}

/**
 * The checks of a deployed commit run against the revision that deployed it; a failure rolls back
 * to the last verified commit, never merely the previous revision (it may be unverified too).
 */
function verifyStep(head: string, attempt: number, state: RunnerState, release: WorkObservation["release"]): Action {
  const revision = state.verifying?.revision;
  const rollbackTo = state.verified !== undefined && state.verified.sha !== head ? state.verified : undefined;
  if (release.status === "deployed" && (revision === undefined || release.revision === revision)) {
    return { kind: "verify", sha: head, attempt, revision: revision ?? release.revision, rollbackTo };
  }
  const runsVerified = rollbackTo !== undefined && release.status === "deployed" && release.imageTag === (rollbackTo.imageSha ?? rollbackTo.sha);
  return { kind: "verify-lost", sha: head, attempt, revision, release, rollbackTo, runsVerified };
}

function buildStep(head: string, attempt: number, lastAttempt: boolean, build: NonNullable<WorkObservation["build"]>): Action {
  const failure = (message: string): Action => ({ kind: "record-failure", sha: head, attempt, message, setAside: lastAttempt });
  switch (build.phase) {
    case "succeeded":
      if (build.digest !== undefined) return { kind: "record-build", sha: head, attempt, digest: build.digest, job: build.name, startedAt: build.startedAt };
      return failure("build Job succeeded but reported no image digest");
    case "failed":
      return failure(build.reason ?? "build Job failed");
    case "running":
      return { kind: "await-build", sha: head, attempt, job: build.name };
    default:
      return assertNever(build.phase);
  }
}
