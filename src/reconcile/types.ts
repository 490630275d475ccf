/** Domain words of a pass. No library types here: adapters translate into these. */

export interface DeployedRecord {
  readonly sha: string;
  readonly at: string;
  readonly digest: string | undefined;
  readonly revision: number | undefined;
  /**
   * The commit whose image the release runs, when not `sha` itself: a change to the chart or
   * values only is deployed with the image already built for an earlier commit.
   */
  readonly imageSha?: string | undefined;
}

/** Who let a commit be deployed, and when (absent when set by hand with kubectl). */
export interface Approval {
  readonly sha: string;
  readonly by?: string | undefined;
  readonly at?: string | undefined;
}

/** What this runner remembers between ticks, kept as annotations on the state ConfigMap. */
export interface RunnerState {
  readonly deployed?: DeployedRecord;
  /** An image for this SHA was pushed (digest known): a later attempt skips straight to deploy. */
  readonly built?: { readonly sha: string; readonly digest: string };
  /**
   * Failed attempts for one SHA; the next attempt's number is failures + 1, so every attempt has its
   * own Job name. `since` is the failure count when `ci-runner retry` last granted new attempts.
   */
  readonly attempts?: { readonly sha: string; readonly failures: number; readonly since?: number | undefined };
  readonly setAside?: { readonly sha: string; readonly reason: string };
  /**
   * A deploy that began and has not ended in a record: the attempt is counted when it starts, so a
   * chart that makes the runner itself die (out of memory) cannot be tried on every tick for ever.
   */
  readonly deploying?: { readonly sha: string; readonly attempt: number };
  /** A head recorded as seen and not built (skip marker, bot author, nothing relevant changed). */
  readonly seen?: { readonly sha: string; readonly reason: string };
  readonly approved?: Approval;
  /**
   * The deployed commit whose checks (VERIFY) have not ended yet: until they pass it is deployed
   * but not verified, and a tick that finds this marker runs them (again, after a kill).
   */
  readonly verifying?: { readonly sha: string; readonly revision: number | undefined };
  /** The last commit whose checks passed, and the revision that runs it: what a failed check rolls back to. */
  readonly verified?: DeployedRecord;
  readonly lastError?: { readonly sha: string; readonly message: string; readonly at: string };
  /** Last branch head seen and the ETag GitHub gave for it, for a free conditional request. */
  readonly head?: { readonly sha: string; readonly etag: string };
  readonly lease?: Lease;
}

export interface Lease {
  readonly holder: string;
  readonly expiresAt: string;
}

/** State as read, with the resourceVersion every write must present (compare-and-swap). */
export interface StateSnapshot {
  readonly state: RunnerState;
  /** undefined when the ConfigMap does not exist yet: the first write creates it. */
  readonly resourceVersion: string | undefined;
  /** Annotations that could not be read; each was treated as absent. */
  readonly warnings: readonly string[];
}

export type BuildPhase = "running" | "succeeded" | "failed";

export interface BuildObservation {
  readonly name: string;
  readonly sha: string;
  readonly attempt: number;
  readonly phase: BuildPhase;
  /** The pushed image digest, from the build pod's termination message. */
  readonly digest?: string | undefined;
  /** Why it failed, short and sanitized. */
  readonly reason?: string | undefined;
  readonly startedAt?: string | undefined;
}

export type ReleaseStatus =
  | "absent" | "deployed" | "failed" | "superseded" | "uninstalling" | "uninstalled"
  | "pending-install" | "pending-upgrade" | "pending-rollback" | "unknown";

export interface ReleaseObservation {
  readonly status: ReleaseStatus;
  readonly revision?: number | undefined;
  /** The image tag value the release was deployed with (the SHA when we deployed it). */
  readonly imageTag?: string | undefined;
  readonly updatedAt?: string | undefined;
}

/** Facts about the work for a head that is neither deployed nor set aside. */
export interface WorkObservation {
  readonly release: ReleaseObservation;
  /** The build Job of the current attempt, if it exists. */
  readonly build: BuildObservation | undefined;
  /** Digest of IMAGE:<sha> in the registry; undefined when absent or not checked. */
  readonly registryDigest: string | undefined;
}

/** What one pass saw of a head: the recorded state, the clock, and what was asked for it. */
export interface Observation {
  readonly head: string;
  readonly state: RunnerState;
  /** When the observation was made (ISO), for the age of a pending release and freeze windows. */
  readonly now: string;
  /** Present once the head needs work; holds only what the configured gates asked for. */
  readonly gates?: GateObservation;
  /** Present only when every gate let the head through; an idle tick never pays for it. */
  readonly work?: WorkObservation;
}

/** The configuration decide reads: passed beside the observation, never copied into it. */
export interface Rules {
  readonly maxRetries: number;
  /** HELM_TIMEOUT: a pending release younger than this (plus our margin) may still be in progress. */
  readonly helmTimeoutSeconds: number;
  /** The gates configured; each one's observation is gathered only when it is. */
  readonly policy: GatePolicy;
  /** What a deployed commit must pass before it counts as verified (VERIFY); empty: nothing. */
  readonly verify: VerifyPolicy;
}

/** The checks after Ready: the chart's own `helm test` hooks. */
export interface VerifyPolicy {
  readonly helmTest: boolean;
}

export function verifies(policy: VerifyPolicy): boolean {
  return policy.helmTest;
}

/** One freeze window: a cron-style start (five fields, in `timeZone`) and how long it lasts. */
export interface FreezeWindow {
  /** The window as written in FREEZE_WINDOWS, for messages. */
  readonly text: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
  /** cron's rule: when both day fields are restricted, either one matching is enough. */
  readonly dayOr: boolean;
  readonly durationMinutes: number;
  readonly timeZone: string;
}

export type ChecksPolicy = { readonly kind: "off" } | { readonly kind: "all" } | { readonly kind: "named"; readonly names: readonly string[] };

/** What decides whether a head is worth building and deploying now. Empty: every head is. */
export interface GatePolicy {
  readonly skipMarkers: boolean;
  readonly skipAuthors: readonly string[];
  /** Path prefixes whose change needs a new image; empty turns the path filter off. */
  readonly buildPaths: readonly string[];
  /** The chart directory and values files: a change there alone redeploys the image already built. */
  readonly deployPaths: readonly string[];
  readonly checks: ChecksPolicy;
  readonly approval: boolean;
  readonly freeze: readonly FreezeWindow[];
}

export interface CommitInfo {
  readonly message: string;
  readonly authorName: string;
  readonly authorEmail: string;
}

/**
 * Files changed from `base` (the deployed commit) to the head; `complete: false` when the host
 * could not list them all (too large, base unknown, histories diverged): the head is then built.
 */
export type ChangeSet =
  | { readonly complete: true; readonly base: string; readonly files: readonly string[] }
  | { readonly complete: false; readonly base: string; readonly why: string };

export type CheckState = "pending" | "success" | "failure";

/** One check run or commit status, by name, with its link. */
export interface Check {
  readonly name: string;
  readonly state: CheckState;
  readonly url: string | undefined;
  /** Who reported it: the check run's GitHub App (its slug), or the commit status's creator (login). */
  readonly reporter?: string | undefined;
}

export interface GateObservation {
  readonly commit?: CommitInfo;
  readonly changes?: ChangeSet;
  /** Check runs; statuses are asked only when every check run is green. */
  readonly checkRuns?: readonly Check[];
  readonly statuses?: readonly Check[];
}

export type Gate = "checks" | "approval" | "freeze";

/** A decision that ends the pass without acting: nothing to do now, or nothing we may do. */
export type IdleAction =
  | { readonly kind: "up-to-date"; readonly sha: string }
  | { readonly kind: "skip-set-aside"; readonly sha: string; readonly reason: string }
  | { readonly kind: "skipped"; readonly sha: string; readonly reason: string }
  | { readonly kind: "hold"; readonly sha: string; readonly gate: Gate; readonly reason: string; readonly until?: string }
  | { readonly kind: "release-busy"; readonly status: ReleaseStatus; readonly since: string; readonly until: string };

/** A decision that act performs: one idempotent step, under the lease. */
export type WorkAction =
  | { readonly kind: "repair-release"; readonly status: ReleaseStatus; readonly revision: number | undefined }
  | { readonly kind: "record-deployed"; readonly sha: string; readonly revision: number | undefined; readonly digest: string | undefined }
  | { readonly kind: "start-build"; readonly sha: string; readonly attempt: number }
  | { readonly kind: "await-build"; readonly sha: string; readonly attempt: number; readonly job: string }
  | { readonly kind: "record-build"; readonly sha: string; readonly attempt: number; readonly digest: string; readonly job: string; readonly startedAt: string | undefined }
  | { readonly kind: "record-failure"; readonly sha: string; readonly attempt: number; readonly message: string; readonly setAside: boolean }
  | { readonly kind: "deploy"; readonly sha: string; readonly attempt: number; readonly digest: string | undefined; readonly lastAttempt: boolean; readonly imageSha?: string }
  | { readonly kind: "record-seen"; readonly sha: string; readonly reason: string }
  | { readonly kind: "set-aside"; readonly sha: string; readonly gate: Gate; readonly reason: string }
  /**
   * Run the checks of a deployed commit. On failure, roll back to `rollbackTo` (the last verified
   * commit's revision) when there is one, and set the commit aside.
   */
  | { readonly kind: "verify"; readonly sha: string; readonly attempt: number; readonly revision: number | undefined; readonly rollbackTo: DeployedRecord | undefined }
  /** The release left the revision being verified (rolled back by a run killed after it, or by hand): the checks cannot end well. */
  | {
    readonly kind: "verify-lost"; readonly sha: string; readonly attempt: number; readonly revision: number | undefined; readonly release: ReleaseObservation;
    /** The last verified commit; the release is rolled back to it unless `runsVerified` says it already runs it. */
    readonly rollbackTo: DeployedRecord | undefined; readonly runsVerified: boolean;
  };

export type Action = IdleAction | WorkAction;

/** Which kinds are idle: checked both ways by the compiler, so a new kind must be placed. */
const IDLE = {
  "up-to-date": true, "skip-set-aside": true, skipped: true, hold: true, "release-busy": true,
  "repair-release": false, "record-deployed": false, "start-build": false, "await-build": false, "record-build": false,
  "record-failure": false, deploy: false, "record-seen": false, "set-aside": false, verify: false, "verify-lost": false,
} as const satisfies { readonly [K in IdleAction["kind"]]: true } & { readonly [K in WorkAction["kind"]]: false };

export function isIdle(action: Action): action is IdleAction {
  return IDLE[action.kind];
}

/** What the failing pods showed before helm's rollback removed them. */
export interface Evidence {
  /** One line for the state's lastError, a GitHub status and a notification. */
  readonly summary: string;
  readonly pods: readonly PodEvidence[];
}

export interface PodEvidence {
  readonly pod: string;
  /** e.g. "app: waiting CrashLoopBackOff, last exit code 3 (Error), 4 restarts" or "app: running, not ready". */
  readonly containers: readonly string[];
  /** Recent Events of the pod, newest last: "Unhealthy: Readiness probe failed: ... (x12)". */
  readonly events: readonly string[];
  /** The last lines the failing container wrote (of its previous run when it restarted). */
  readonly logTail: readonly string[];
}

/** How a pass ended; main maps it to an exit code. */
export type PassOutcome =
  | { readonly kind: "up-to-date"; readonly sha: string }
  | { readonly kind: "deployed"; readonly sha: string; readonly revision: number | undefined; readonly verified?: boolean }
  | { readonly kind: "lease-busy"; readonly holder: string; readonly expiresAt: string }
  | { readonly kind: "release-busy"; readonly status: ReleaseStatus; readonly since: string; readonly until: string }
  | { readonly kind: "attempt-failed"; readonly sha: string; readonly attempt: number; readonly message: string }
  | { readonly kind: "set-aside"; readonly sha: string; readonly reason: string }
  | { readonly kind: "skipped"; readonly sha: string; readonly reason: string }
  | { readonly kind: "waiting"; readonly sha: string; readonly gate: Gate; readonly reason: string; readonly until?: string };
