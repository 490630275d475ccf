import type { BuildObservation, ChangeSet, Check, CommitInfo, Evidence, ReleaseObservation, RunnerState, StateSnapshot } from "./types.ts";

/**
 * What the core needs from the world, in domain words. Adapters in src/adapters implement these
 * against GitHub, the Kubernetes API, Helm and the registry; tests implement them as strict fakes.
 */

export interface BranchHead {
  readonly sha: string;
  readonly etag: string | undefined;
  /** GitHub answered 304: the head is the one we saw last time (free against the rate limit). */
  readonly notModified: boolean;
}

export interface SourceHost {
  branchHead(known: { sha: string; etag: string } | undefined): Promise<BranchHead>;
}

/** What the gates ask the source host about a commit; each is asked only when its gate is configured. */
export interface GateSource {
  /** The commit's message and author (for skip markers and bot authors). */
  commit(sha: string): Promise<CommitInfo>;
  /** Files changed from `base` to `head`; incomplete (never an error) when the host cannot list them all. */
  changes(base: string, head: string): Promise<ChangeSet>;
  /** The latest run of each check on the commit. */
  checkRuns(sha: string): Promise<Check[]>;
  /** The latest commit status of each context on the commit. */
  statuses(sha: string): Promise<Check[]>;
}

export interface StateStore {
  read(): Promise<StateSnapshot>;
  /** Compare-and-swap: fails with ConflictError when the ConfigMap changed since `resourceVersion`. */
  write(next: RunnerState, resourceVersion: string | undefined): Promise<StateSnapshot>;
}

export interface BuildRequest {
  readonly sha: string;
  readonly attempt: number;
}

/** What a build would push and the Job that would do it, for `plan`: exactly what `start` creates. */
export interface BuildPlan {
  readonly images: readonly string[];
  /** The Job manifest, as the cluster would receive it. */
  readonly job: unknown;
}

export interface BuildRunner {
  /** The Job of this attempt, if one exists; a Job under that name for another target or commit is refused. */
  find(sha: string, attempt: number): Promise<BuildObservation | undefined>;
  /** Creates the Job, or adopts one of ours with the same name (AlreadyExists); returns its name. */
  start(request: BuildRequest): Promise<string>;
  /**
   * Waits (watch, not polling) until the Job finishes or the deadline passes; stops when `fence`
   * aborts. A build pod that cannot start for a reason a person must fix is a ConfigError at once.
   */
  wait(name: string, fence: AbortSignal): Promise<void>;
  /** Deletes a succeeded Job and its pods; a failed one is kept for `kubectl logs` until its TTL. */
  remove(name: string): Promise<void>;
  /** Jobs of this target that have not finished, for `status`. */
  inFlight(): Promise<BuildObservation[]>;
  /** The images and Job `start` would create, changing nothing (for `plan`). */
  plan(request: BuildRequest): Promise<BuildPlan>;
}

export interface ImageRegistry {
  /** Digest of IMAGE:<tag>, or undefined when the registry does not have it. */
  digestOf(tag: string): Promise<string | undefined>;
}

export interface ChartCheckout {
  /** The repository root of the checkout (values files are relative to it). */
  readonly root: string;
  /** The chart directory inside it. */
  readonly chartDir: string;
  dispose(): Promise<void>;
}

export interface ChartSource {
  /** The chart (and values files) exactly at `sha`, fetched without the token in argv or URL. */
  checkout(sha: string): Promise<ChartCheckout>;
  /** Starts fetching while the image builds, so the deploy need not wait for it; best effort, never rejects. */
  prefetch(sha: string): Promise<void>;
}

export interface DeployRequest {
  /**
   * The commit whose image is deployed (the image tag). Usually the chart's own commit; for a
   * change to the chart or values alone, the earlier commit whose image the release already runs.
   */
  readonly sha: string;
  /** The head commit this deploy is an attempt of: what its news is told under. */
  readonly headSha: string;
  readonly chartDir: string;
  /** Absolute paths of extra values files. */
  readonly valuesFiles: readonly string[];
}

export interface ReleaseManager {
  observe(): Promise<ReleaseObservation>;
  /** Clears a release stuck in pending-* by a killed helm, so the next upgrade can proceed. */
  repair(release: ReleaseObservation, fence: AbortSignal): Promise<void>;
  /**
   * `helm upgrade --install` with wait and atomic rollback; throws AttemptFailure when helm failed.
   * When `fence` aborts, helm is asked to stop (it rolls back) and the call throws LeaseLost.
   */
  deploy(request: DeployRequest, fence: AbortSignal): Promise<{ revision: number | undefined }>;
  /** The argv deploy would run (for `plan`), secrets masked. */
  deployArgv(request: DeployRequest): Promise<readonly string[]>;
  /**
   * `helm test`: the chart's test hooks against the release as deployed. Throws AttemptFailure
   * with their output when one fails; LeaseLost when `fence` aborts.
   */
  test(fence: AbortSignal): Promise<void>;
  /** `helm rollback` to one revision, waiting until it is Ready; throws AttemptFailure when helm could not. */
  rollback(revision: number, fence: AbortSignal): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/**
 * What happened to a commit, told to whoever listens (GitHub Deployments, Kubernetes Events, a
 * webhook, metrics). Recorded state is the truth; a transition is news about it.
 */
export type Transition =
  | { readonly kind: "build-started"; readonly sha: string; readonly attempt: number; readonly job: string }
  | { readonly kind: "build-succeeded"; readonly sha: string; readonly attempt: number; readonly digest: string; readonly seconds: number | undefined }
  | { readonly kind: "deploy-started"; readonly sha: string; readonly attempt: number; readonly digest: string | undefined }
  | { readonly kind: "deployed"; readonly sha: string; readonly attempt: number; readonly revision: number | undefined; readonly digest: string | undefined; readonly seconds: number | undefined }
  | {
    readonly kind: "attempt-failed"; readonly sha: string; readonly attempt: number; readonly phase: "build" | "deploy" | "verify";
    readonly message: string; readonly setAside: boolean;
    /** helm's atomic rollback ran: the release is back at the revision before this attempt. */
    readonly rolledBack: boolean;
    /** What the failing pods showed before the rollback removed them. */
    readonly evidence?: Evidence | undefined;
  }
  | { readonly kind: "lease-contention"; readonly holder: string; readonly expiresAt: string };

export interface Reporter {
  /** Tells the news. Never throws and never blocks for long: the deploy matters more than the report. */
  report(transition: Transition): Promise<void>;
}

export interface Ports {
  readonly source: SourceHost;
  readonly gates: GateSource;
  readonly state: StateStore;
  readonly builds: BuildRunner;
  readonly registry: ImageRegistry;
  readonly charts: ChartSource;
  readonly releases: ReleaseManager;
  readonly reporter: Reporter;
  readonly clock: Clock;
}
