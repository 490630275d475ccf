import { join } from "node:path";
import { type AttemptDetails, AttemptFailure } from "../errors.ts";
import type { Logger } from "../log.ts";
import { plain } from "../text.ts";
import { assertNever } from "./assert-never.ts";
import { failuresFor, retryBase } from "./attempts.ts";
import type { LeasedState } from "./leased-state.ts";
import type { Ports } from "./ports.ts";
import type { Action, DeployedRecord, PassOutcome, RunnerState, WorkAction } from "./types.ts";

export interface ActContext {
  readonly ports: Ports;
  readonly leased: LeasedState;
  readonly log: Logger;
  readonly maxRetries: number;
  readonly valuesFiles: readonly string[];
  /** A deployed commit must pass checks (VERIFY) before it counts as verified. */
  readonly verifies: boolean;
}

/**
 * Performs one action, safe to repeat. Returns an outcome when the pass is over, or undefined to
 * observe again. Each crash window says what the next tick does.
 */
export async function act(action: WorkAction, ctx: ActContext): Promise<PassOutcome | undefined> {
  const { ports, leased, log } = ctx;
  // The fence: never start a step once the lease could have passed to another run.
  leased.assertHeld();
  switch (action.kind) {
    case "start-build": {
      const job = await ports.builds.start({ sha: action.sha, attempt: action.attempt });
      // Killed here: the next tick computes the same Job name, finds the Job and awaits it (the
      // news of the start is then lost; the outcome is reported).
      log.info({ sha: action.sha, attempt: action.attempt, job }, "Created build Job");
      await ports.reporter.report({ kind: "build-started", sha: action.sha, attempt: action.attempt, job });
      return undefined;
    }
    case "await-build": {
      void ports.charts.prefetch(action.sha).catch(() => undefined);
      log.info({ job: action.job }, "Waiting for build Job");
      await ports.builds.wait(action.job, leased.fence);
      // Killed while waiting: the Job runs on; the next tick adopts it by name and waits again.
      log.info({ job: action.job }, "Build Job finished");
      return undefined;
    }
    case "record-build": {
      await leased.update((s) => ({ ...s, built: { sha: action.sha, digest: action.digest } }));
      // Killed here: the record says the image exists, so the next tick deploys; the succeeded Job
      // is left for its TTL to remove.
      await ports.builds.remove(action.job);
      log.info({ sha: action.sha, digest: action.digest, job: action.job }, "Recorded built image and deleted its Job");
      const seconds = action.startedAt === undefined ? undefined : secondsSince(action.startedAt, ports.clock.now());
      await ports.reporter.report({ kind: "build-succeeded", sha: action.sha, attempt: action.attempt, digest: action.digest, seconds });
      return undefined;
    }
    case "record-failure":
      return recordFailure(ctx, action, "build");
    case "repair-release": {
      log.warn({ status: action.status, revision: action.revision }, "Repairing release left mid-operation by a killed helm");
      await ports.releases.repair({ status: action.status, revision: action.revision }, leased.fence);
      // Killed here: the release is pending again or repaired; the next tick observes which.
      return undefined;
    }
    case "record-deployed": {
      // A previous run deployed this SHA and was killed before recording it: record, don't redeploy.
      const attempt = failuresFor(action.sha, leased.state) + 1;
      await leased.update((s) => deployed(s, action.sha, action.digest, action.revision, ports.clock.now(), action.sha, ctx.verifies));
      log.info({ sha: action.sha, revision: action.revision }, "Recorded release deployed by an earlier run");
      await ports.reporter.report({ kind: "deployed", sha: action.sha, attempt, revision: action.revision, digest: action.digest, seconds: undefined });
      // With checks configured, the next step runs them.
      return ctx.verifies ? undefined : { kind: "deployed", sha: action.sha, revision: action.revision };
    }
    case "verify":
    case "verify-lost":
      if (!ctx.verifies) {
        // VERIFY was turned off while a commit's checks were unfinished: they are not run now.
        await leased.update(({ verifying: _dropped, ...s }) => s);
        log.info({ sha: action.sha }, "Dropped the unfinished checks of the deployed commit: VERIFY is off");
        return { kind: "up-to-date", sha: action.sha };
      }
      return action.kind === "verify" ? verify(ctx, action) : verifyLost(ctx, action);
    case "deploy":
      return deploy(ctx, action);
    case "record-seen": {
      await leased.update((s) => ({ ...s, seen: { sha: action.sha, reason: action.reason } }));
      // Killed before this write: the next tick asks the gates again and records the same.
      log.info({ sha: action.sha, reason: action.reason }, "Recorded head commit as seen; not building it");
      return { kind: "skipped", sha: action.sha, reason: action.reason };
    }
    case "set-aside": {
      const at = ports.clock.now().toISOString();
      await leased.update((s) => ({ ...s, setAside: { sha: action.sha, reason: action.reason }, lastError: { sha: action.sha, message: action.reason, at } }));
      // Killed before this write: the next tick finds the same red check and sets it aside then.
      log.error({ sha: action.sha, gate: action.gate, reason: action.reason }, "Set commit aside: a gate refused it");
      return { kind: "set-aside", sha: action.sha, reason: action.reason };
    }
    default:
      return assertNever(action);
  }
}

async function deploy(ctx: ActContext, action: Extract<Action, { kind: "deploy" }>): Promise<PassOutcome | undefined> {
  const { ports, leased, log } = ctx;
  let revision: number | undefined;
  const started = ports.clock.now();
  // The image tag: the head's own image, or for a chart-only change the one the release runs.
  const imageSha = action.imageSha ?? action.sha;
  // Counted when it starts: killed here or later (out of memory on the chart), the next tick
  // records this attempt as failed instead of trying it again for ever.
  await leased.update((s) => ({ ...s, deploying: { sha: action.sha, attempt: action.attempt } }));
  await ports.reporter.report({ kind: "deploy-started", sha: action.sha, attempt: action.attempt, digest: action.digest });
  try {
    // Inside the attempt: a commit without a chart (or with a chart we refuse) is this commit's
    // failure, counted like a failed build, never a transient error repeated on every tick.
    const checkout = await ports.charts.checkout(action.sha);
    try {
      // The image is one we recorded: built by this attempt, or the release's own for a chart-only change.
      log.info({ sha: action.sha, attempt: action.attempt, imageSha, digest: action.digest }, "Deploying release");
      const valuesFiles = ctx.valuesFiles.map((file) => join(checkout.root, file));
      ({ revision } = await ports.releases.deploy({ sha: imageSha, headSha: action.sha, chartDir: checkout.chartDir, valuesFiles }, leased.fence));
    } finally {
      await checkout.dispose();
    }
  } catch (error) {
    if (!(error instanceof AttemptFailure)) {
      // Not the commit's failure (settings, rights, the API): the attempt is not counted, and the
      // next tick tries it again once that is fixed. Only a run that dies here leaves the marker.
      await leased.update(({ deploying: _stopped, ...s }) => s).catch((cleared: unknown) => log.warn({ err: cleared }, "Could not clear the deploying marker; the next tick counts this attempt"));
      throw error;
    }
    // Killed after helm rolled back but before this record: the next tick deploys once more
    // (one extra attempt, still bounded by MAX_RETRIES once recorded).
    return recordFailure(ctx, { sha: action.sha, attempt: action.attempt, message: error.message, setAside: action.lastAttempt }, "deploy", error.details);
  }
  // Killed here, after helm and before the record: the next tick sees the release deployed with
  // this SHA as its image tag and records it (record-deployed) without running helm again. For a
  // chart-only change the tag is the earlier commit's, so the next tick deploys the same chart and
  // image once more (one extra revision, nothing rebuilt).
  await leased.update((s) => deployed(s, action.sha, action.digest, revision, ports.clock.now(), imageSha, ctx.verifies));
  log.info({ sha: action.sha, revision, digest: action.digest }, "Deployed release and recorded it");
  const seconds = secondsSince(started.toISOString(), ports.clock.now());
  await ports.reporter.report({ kind: "deployed", sha: action.sha, attempt: action.attempt, revision, digest: action.digest, seconds });
  // With checks configured, the next step runs them.
  return ctx.verifies ? undefined : { kind: "deployed", sha: action.sha, revision };
}

/**
 * The checks of a deployed commit (`helm test`). Passed: the commit is verified. Failed: the
 * release goes back to the last verified commit and the commit is set aside at once (a check that
 * fails on a Ready release is not retried). Killed at any point the marker stays, and the next
 * tick runs the checks again or, if the release moved, finishes the rollback.
 */
async function verify(ctx: ActContext, action: Extract<Action, { kind: "verify" }>): Promise<PassOutcome | undefined> {
  const { ports, leased, log } = ctx;
  log.info({ sha: action.sha, revision: action.revision }, "Verifying release: helm test");
  const started = ports.clock.now();
  try {
    await ports.releases.test(leased.fence);
  } catch (error) {
    if (!(error instanceof AttemptFailure)) throw error;
    return failVerification(ctx, action, error.message, error.details);
  }
  await leased.update(({ verifying: _done, ...s }) => ({ ...s, ...(s.deployed?.sha === action.sha ? { verified: { ...s.deployed, at: ports.clock.now().toISOString() } } : {}) }));
  log.info({ sha: action.sha, revision: action.revision, seconds: secondsSince(started.toISOString(), ports.clock.now()) }, "Verified release and recorded it");
  return { kind: "deployed", sha: action.sha, revision: action.revision, verified: true };
}

/** The release moved while a commit's checks were unfinished: they cannot end well. */
async function verifyLost(ctx: ActContext, action: Extract<Action, { kind: "verify-lost" }>): Promise<PassOutcome> {
  const now = `${action.release.status}${action.release.revision === undefined ? "" : ` at revision ${action.release.revision}`}`;
  const message = `the release left revision ${action.revision ?? "?"} before the checks of ${action.sha.slice(0, 12)} ended (it is ${now}): rolled back by a run that was stopped, or by hand`;
  return failVerification(ctx, action, message, {}, action.runsVerified ? action.release.revision : undefined);
}

/**
 * A deployed commit failed its checks: back to the last verified commit (`rollbackTo`) unless the
 * release already runs it (at `runningRevision`), then set aside with what the checks printed.
 */
async function failVerification(ctx: ActContext, action: { sha: string; attempt: number; rollbackTo: DeployedRecord | undefined }, why: string, details: AttemptDetails, runningRevision?: number): Promise<PassOutcome> {
  const { ports, leased, log } = ctx;
  const target = action.rollbackTo;
  let message = plain(why);
  let back: DeployedRecord | undefined;
  if (target !== undefined && runningRevision !== undefined) {
    back = { ...target, revision: runningRevision };
  } else if (target?.revision !== undefined) {
    log.warn({ sha: action.sha, to: target.sha, revision: target.revision, reason: message }, "Checks failed; rolling back to the last verified commit");
    try {
      await ports.releases.rollback(target.revision, leased.fence);
      // Killed here: the marker is still there and the release runs the verified commit: the next
      // tick finds it moved (verify-lost) and records the same.
      back = { ...target, revision: (await ports.releases.observe()).revision };
    } catch (error) {
      if (!(error instanceof AttemptFailure)) throw error;
      message = `${message}; the rollback to revision ${target.revision} (${target.sha.slice(0, 12)}) failed: ${plain(error.message)}`;
    }
  } else if (target !== undefined) {
    message = `${message}; the revision of the last verified commit (${target.sha.slice(0, 12)}) is not known, so the release stays at ${action.sha.slice(0, 12)}`;
  } else {
    message = `${message}; no verified commit to roll back to, so the release stays at ${action.sha.slice(0, 12)}`;
  }
  const at = ports.clock.now().toISOString();
  const reason = `checks failed: ${message}`;
  await leased.update(({ verifying: _done, ...s }) => ({
    ...s,
    // The verified commit now runs at a new revision: the next rollback goes there, and survives
    // the old one being pruned by --history-max.
    ...(back ? { deployed: { ...back, at }, verified: { ...back, at: s.verified?.at ?? at } } : {}),
    attempts: { sha: action.sha, failures: action.attempt },
    lastError: { sha: action.sha, message, at },
    setAside: { sha: action.sha, reason },
  }));
  await ports.reporter.report({ kind: "attempt-failed", sha: action.sha, attempt: action.attempt, phase: "verify", message, setAside: true, rolledBack: back !== undefined, evidence: details.evidence });
  log.error({ sha: action.sha, error: message, rolledBackTo: back?.sha }, "Set commit aside: its checks failed");
  return { kind: "set-aside", sha: action.sha, reason };
}

async function recordFailure(ctx: ActContext, failure: { sha: string; attempt: number; message: string; setAside: boolean }, phase: "build" | "deploy", details: AttemptDetails = {}): Promise<PassOutcome> {
  const { leased, log, ports, maxRetries } = ctx;
  const { sha, attempt, setAside } = failure;
  // The message carries what the commit's build or chart printed: stored and told without controls.
  const message = plain(failure.message);
  const at = ports.clock.now().toISOString();
  const since = leased.state.attempts?.sha === sha ? leased.state.attempts.since : undefined;
  const reason = `failed ${attempt - retryBase(sha, leased.state)} of ${maxRetries} attempts; last: ${message}`;
  await leased.update(({ deploying: _done, ...s }) => ({
    ...s,
    attempts: { sha, failures: attempt, since },
    lastError: { sha, message, at },
    ...(setAside ? { setAside: { sha, reason } } : {}),
  }));
  await ports.reporter.report({ kind: "attempt-failed", sha, attempt, phase, message, setAside, rolledBack: details.rolledBack === true, evidence: details.evidence });
  if (setAside) {
    log.error({ sha, attempt, error: message }, "Set commit aside after its last attempt");
    return { kind: "set-aside", sha, reason };
  }
  log.warn({ sha, attempt, maxRetries, error: message }, "Attempt failed; the next tick retries");
  return { kind: "attempt-failed", sha, attempt, message };
}

function secondsSince(iso: string, now: Date): number | undefined {
  const seconds = (now.getTime() - Date.parse(iso)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function deployed(s: RunnerState, sha: string, digest: string | undefined, revision: number | undefined, now: Date, imageSha = sha, verifying = false): RunnerState {
  // A deployed head supersedes every older attempt, error, set-aside, seen commit and unfinished check.
  const { attempts: _a, lastError: _e, built: _b, setAside: _s, seen: _n, deploying: _d, verifying: _v, ...rest } = s;
  return {
    ...rest,
    deployed: { sha, at: now.toISOString(), digest, revision, ...(imageSha !== sha ? { imageSha } : {}) },
    ...(verifying ? { verifying: { sha, revision } } : {}),
  };
}
