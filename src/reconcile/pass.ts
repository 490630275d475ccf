import type { Logger } from "../log.ts";
import { act } from "./act.ts";
import { decide, decideGates, failuresFor, headNeedsWork } from "./decide.ts";
import { LeasedState } from "./leased-state.ts";
import { observeGates } from "./observe-gates.ts";
import type { BranchHead, Ports } from "./ports.ts";
import type { Action, GateObservation, GatePolicy, Observation, PassOutcome, ReleaseObservation, RunnerState, WorkObservation } from "./types.ts";

export interface PassContext {
  readonly ports: Ports;
  readonly log: Logger;
  /** Who we are in the lease: pod name (or host) and pid, unique per process. */
  readonly holder: string;
  readonly maxRetries: number;
  readonly leaseSeconds: number;
  readonly helmTimeoutSeconds: number;
  readonly valuesFiles: readonly string[];
  /** The gates a new head passes before it is built and deployed (NO_GATES: none). */
  readonly policy: GatePolicy;
}

/** A pass has at most this many steps (build, wait, record, deploy...); more means a bug. */
const MAX_STEPS = 12;

/**
 * One reconcile pass: observe -> decide -> act -> observe again, until the head is deployed, a
 * failure is recorded, or another run holds the lease. `plan` stops after the first decision.
 */
export async function runPass(ctx: PassContext, mode: "sync" | "plan"): Promise<PassOutcome> {
  const { ports, log } = ctx;
  const snapshot = await ports.state.read();
  for (const warning of snapshot.warnings) log.warn({ warning }, "Ignored malformed state annotation");
  const head = await ports.source.branchHead(snapshot.state.head);
  log.info({ sha: head.sha, notModified: head.notModified }, "Observed branch head");
  const remember = (s: RunnerState) => rememberHead(s, head);

  if (!headNeedsWork(head.sha, snapshot.state)) {
    const action = decide(observation(ctx, head.sha, snapshot.state));
    if (mode === "sync" && remember(snapshot.state) !== snapshot.state) {
      await rememberQuietly(ctx, snapshot.state, snapshot.resourceVersion, remember);
    }
    return idleOutcome(action, log);
  }
  // The gates are asked before the lease: a head that waits costs no write and no Kubernetes call
  // beyond the state read (and no GitHub request at all when no gate is configured).
  const gates = await observeGates(ports.gates, ctx.policy, head.sha, snapshot.state);
  const gated = decideGates(observation(ctx, head.sha, snapshot.state, gates));
  if (mode === "plan") {
    if (gated !== undefined) return { kind: "planned", action: gated };
    const work = await observeWork(ports, head.sha, snapshot.state);
    return { kind: "planned", action: decide(observation(ctx, head.sha, snapshot.state, gates, work)) };
  }
  if (gated?.kind === "hold") {
    if (remember(snapshot.state) !== snapshot.state) await rememberQuietly(ctx, snapshot.state, snapshot.resourceVersion, remember);
    return idleOutcome(gated, log);
  }

  const taken = await LeasedState.acquire(ports.state, ctx.holder, ports.clock, ctx.leaseSeconds, snapshot, remember);
  if (!(taken instanceof LeasedState)) {
    log.info({ holder: taken.busy.holder, expiresAt: taken.busy.expiresAt }, "Another run holds the lease; leaving the work to it");
    await ports.reporter.report({ kind: "lease-contention", holder: taken.busy.holder, expiresAt: taken.busy.expiresAt });
    return { kind: "lease-busy", ...taken.busy };
  }
  const stopHeartbeat = taken.startHeartbeat(log);
  try {
    return await work(ctx, taken, head.sha, gates);
  } finally {
    stopHeartbeat();
    await taken.release().catch((error: unknown) => log.warn({ err: error }, "Could not release the lease; it expires by itself"));
  }
}

async function work(ctx: PassContext, leased: LeasedState, head: string, gates: GateObservation): Promise<PassOutcome> {
  const { ports, log } = ctx;
  // The state needs no re-read between steps: each of our writes answers with the current
  // ConfigMap, and a write by anyone else makes our next compare-and-swap fail and re-read.
  // The release is read again only after we repaired it: building and recording cannot change
  // it, and the lease keeps other runs from deploying meanwhile. The gates' GitHub answers are
  // kept for the pass; approval and freeze are decided again at every step from state and clock,
  // so a freeze that begins while the image builds holds the deploy.
  let release: ReleaseObservation | undefined;
  for (let step = 0; step < MAX_STEPS; step++) {
    let action = decideGates(observation(ctx, head, leased.state, gates));
    if (action === undefined) {
      const work = await observeWork(ports, head, leased.state, release);
      release = work.release;
      action = decide(observation(ctx, head, leased.state, gates, work));
    }
    log.debug({ action }, "Decided next step");
    if (action.kind === "up-to-date" || action.kind === "skip-set-aside" || action.kind === "skipped" || action.kind === "hold") return idleOutcome(action, log);
    if (action.kind === "release-busy") {
      log.warn({ status: action.status, since: action.since, until: action.until }, "Release is mid-operation, perhaps by another helm; it is repaired only if still pending after HELM_TIMEOUT");
      return { kind: "release-busy", status: action.status, since: action.since, until: action.until };
    }
    const outcome = await act(action, { ports, leased, log, maxRetries: ctx.maxRetries, valuesFiles: ctx.valuesFiles });
    if (outcome !== undefined) return outcome;
    if (action.kind === "repair-release") release = undefined;
  }
  throw new Error(`pass did not settle after ${MAX_STEPS} steps`);
}

/**
 * Everything decide needs about the work for `head`; the registry is asked only when no build is
 * known, the release only when `known` is not given.
 */
export async function observeWork(ports: Ports, head: string, state: RunnerState, known?: ReleaseObservation): Promise<WorkObservation> {
  const attempt = failuresFor(head, state) + 1;
  const [release, build] = await Promise.all([
    known ?? ports.releases.observe(),
    state.built?.sha === head ? undefined : ports.builds.find(head, attempt),
  ]);
  // The registry is asked when nothing else can say whether IMAGE:<sha> exists: no record, no
  // Job; or when a release already runs the head and only the registry knows its digest.
  const digestKnown = state.built?.sha === head || (build?.phase === "succeeded" && build.digest !== undefined);
  const releasedHead = release.status === "deployed" && release.imageTag === head;
  const needRegistry = !digestKnown && (build === undefined || releasedHead);
  const registryDigest = needRegistry ? await ports.registry.digestOf(head) : undefined;
  return { release, build, registryDigest };
}

function observation(ctx: PassContext, head: string, state: RunnerState, gates?: GateObservation, work?: WorkObservation): Observation {
  return {
    head, state, maxRetries: ctx.maxRetries, now: ctx.ports.clock.now().toISOString(), helmTimeoutSeconds: ctx.helmTimeoutSeconds, policy: ctx.policy,
    ...(gates ? { gates } : {}), ...(work ? { work } : {}),
  };
}

function rememberHead(state: RunnerState, head: BranchHead): RunnerState {
  if (head.etag === undefined || (state.head?.sha === head.sha && state.head.etag === head.etag)) return state;
  return { ...state, head: { sha: head.sha, etag: head.etag } };
}

/** The remembered ETag only saves a rate-limit point: losing that write to another run is fine. */
async function rememberQuietly(ctx: PassContext, state: RunnerState, rv: string | undefined, remember: (s: RunnerState) => RunnerState) {
  try {
    await ctx.ports.state.write(remember(state), rv);
  } catch (error) {
    ctx.log.debug({ err: error }, "Did not remember the branch head ETag");
  }
}

function idleOutcome(action: Action, log: Logger): PassOutcome {
  if (action.kind === "skip-set-aside") {
    log.warn({ sha: action.sha, reason: action.reason }, "Head commit is set aside; waiting for a newer commit or `ci-runner retry`");
    return { kind: "set-aside", sha: action.sha, reason: action.reason };
  }
  if (action.kind === "up-to-date") {
    log.info({ sha: action.sha }, "Release is up to date");
    return { kind: "up-to-date", sha: action.sha };
  }
  if (action.kind === "skipped") {
    log.info({ sha: action.sha, reason: action.reason }, "Head commit was recorded as seen and is not built");
    return { kind: "skipped", sha: action.sha, reason: action.reason };
  }
  if (action.kind === "hold") {
    log.info({ sha: action.sha, gate: action.gate, reason: action.reason, until: action.until }, "Head commit is held by a gate");
    const { kind: _hold, ...rest } = action;
    return { kind: "waiting", ...rest };
  }
  throw new Error(`idleOutcome: ${action.kind} is not an idle action`);
}
