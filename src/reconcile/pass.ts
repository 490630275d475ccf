import type { Logger } from "../log.ts";
import { act } from "./act.ts";
import { decideGates, decideWork } from "./decide.ts";
import { LeasedState } from "./leased-state.ts";
import { observe, observeWork } from "./observe.ts";
import type { BranchHead, Ports } from "./ports.ts";
import { type Action, type GateObservation, type IdleAction, isIdle, type PassOutcome, type ReleaseObservation, type Rules, type RunnerState, verifies } from "./types.ts";

export interface PassContext {
  readonly ports: Ports;
  readonly log: Logger;
  /** Who we are in the lease: pod name (or host) and pid, unique per process. */
  readonly holder: string;
  /** What decide reads besides the observation. */
  readonly rules: Rules;
  readonly leaseSeconds: number;
  readonly valuesFiles: readonly string[];
}

/** A pass has at most this many steps (build, wait, record, deploy...); more means a bug. */
export const MAX_STEPS = 12;

/**
 * One reconcile pass: observe -> decide -> act -> observe again, until the head is deployed, a
 * failure is recorded, or another run holds the lease.
 */
export async function runPass(ctx: PassContext): Promise<PassOutcome> {
  const { ports, log } = ctx;
  const seen = await observe(ports, ctx.rules.policy, log);
  const { snapshot, head } = seen;
  const remember = (s: RunnerState) => rememberHead(s, head);
  const rememberIfNew = async () => {
    if (remember(snapshot.state) !== snapshot.state) await rememberQuietly(ctx, snapshot.state, snapshot.resourceVersion, remember);
  };
  if (seen.recorded !== undefined) {
    await rememberIfNew();
    return idleOutcome(seen.recorded, log);
  }
  // The gates are asked before the lease: a head that waits costs no write and no Kubernetes call
  // beyond the state read (and no GitHub request at all when no gate is configured).
  const gates = seen.gates ?? {};
  const gated = decideGates({ head: head.sha, state: snapshot.state, now: ports.clock.now().toISOString(), gates }, ctx.rules);
  if (gated.kind === "hold") {
    await rememberIfNew();
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

/**
 * One step's observe and decide: the gates first (from the GitHub answers already gathered, the
 * state and the clock), then, when every gate lets the head through, the work. `known` is the
 * release as last read, when nothing since could have changed it. `plan` is this and nothing more.
 */
export async function nextStep(ports: Ports, rules: Rules, head: string, state: RunnerState, gates: GateObservation, known?: ReleaseObservation): Promise<{ action: Action; release?: ReleaseObservation }> {
  const obs = { head, state, now: ports.clock.now().toISOString(), gates };
  const gated = decideGates(obs, rules);
  if (gated.kind !== "through") return { action: gated };
  const observed = await observeWork(ports, head, state, known);
  return { action: decideWork({ ...obs, work: observed }, rules, gated.paths), release: observed.release };
}

async function work(ctx: PassContext, leased: LeasedState, head: string, gates: GateObservation): Promise<PassOutcome> {
  const { ports, log } = ctx;
  // The state needs no re-read between steps: each of our writes answers with the current
  // ConfigMap, and a write by anyone else makes our next compare-and-swap fail and re-read.
  // The release is read again only after we repaired or deployed it: building and recording cannot change
  // it, and the lease keeps other runs from deploying meanwhile. The gates' GitHub answers are
  // kept for the pass; approval and freeze are decided again at every step from state and clock,
  // so a freeze that begins while the image builds holds the deploy.
  let release: ReleaseObservation | undefined;
  for (let step = 0; step < MAX_STEPS; step++) {
    const next = await nextStep(ports, ctx.rules, head, leased.state, gates, release);
    const { action } = next;
    release = next.release ?? release;
    log.debug({ action }, "Decided next step");
    if (isIdle(action)) return idleOutcome(action, log);
    const outcome = await act(action, { ports, leased, log, maxRetries: ctx.rules.maxRetries, valuesFiles: ctx.valuesFiles, verifies: verifies(ctx.rules.verify) });
    if (outcome !== undefined) return outcome;
    // helm changed the release: a repair, or a deploy whose checks (VERIFY) come next.
    if (action.kind === "repair-release" || action.kind === "deploy") release = undefined;
  }
  throw new Error(`pass did not settle after ${MAX_STEPS} steps`);
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

/** How an idle decision ends the pass, said once in the log. */
export function idleOutcome(action: IdleAction, log: Logger): PassOutcome {
  switch (action.kind) {
    case "skip-set-aside":
      log.warn({ sha: action.sha, reason: action.reason }, "Head commit is set aside; waiting for a newer commit or `ci-runner retry`");
      return { kind: "set-aside", sha: action.sha, reason: action.reason };
    case "up-to-date":
      log.info({ sha: action.sha }, "Release is up to date");
      return { kind: "up-to-date", sha: action.sha };
    case "skipped":
      log.info({ sha: action.sha, reason: action.reason }, "Head commit was recorded as seen and is not built");
      return { kind: "skipped", sha: action.sha, reason: action.reason };
    case "hold": {
      log.info({ sha: action.sha, gate: action.gate, reason: action.reason, until: action.until }, "Head commit is held by a gate");
      const { kind: _hold, ...rest } = action;
      return { kind: "waiting", ...rest };
    }
    case "release-busy":
      log.warn({ status: action.status, since: action.since, until: action.until }, "Release is mid-operation, perhaps by another helm; it is repaired only if still pending after HELM_TIMEOUT");
      return { kind: "release-busy", status: action.status, since: action.since, until: action.until };
  }
}
