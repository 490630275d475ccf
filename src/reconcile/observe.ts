import type { Logger } from "../log.ts";
import { failuresFor } from "./attempts.ts";
import { recorded } from "./decide.ts";
import { checksVerdict, needsCommit, pathVerdict, skipReason } from "./gates.ts";
import type { BranchHead, GateSource, Ports } from "./ports.ts";
import type { GateObservation, GatePolicy, IdleAction, ReleaseObservation, RunnerState, StateSnapshot, WorkObservation } from "./types.ts";

/**
 * Observe reads only; decide (decide.ts) chooses from what it read. Three reads, each done only
 * when the one before leaves the head undecided:
 *   the state and the branch head  -> the idle tick stops here (one 304 and one ConfigMap read);
 *   the gates, of a head that needs work (GitHub, only what the configured gates ask);
 *   the work: the release, the attempt's build Job, the registry.
 * `sync`, `plan` and `status` all observe through these.
 */

export interface HeadObservation {
  readonly snapshot: StateSnapshot;
  readonly head: BranchHead;
  /** What the head's record already decides (deployed, set aside, seen): nothing more was asked. */
  readonly recorded: IdleAction | undefined;
  /** What the gates asked, for a head that needs work. */
  readonly gates: GateObservation | undefined;
}

/** The state, the branch head, and the gates of a head that needs work. */
export async function observe(ports: Pick<Ports, "state" | "source" | "gates">, policy: GatePolicy, log: Logger): Promise<HeadObservation> {
  const snapshot = await ports.state.read();
  for (const warning of snapshot.warnings) log.warn({ warning }, "Ignored malformed state annotation");
  return observeFrom(ports, policy, snapshot, log);
}

/** The same from a state already read (`status` reads it first and shows it whatever GitHub says). */
export async function observeFrom(ports: Pick<Ports, "source" | "gates">, policy: GatePolicy, snapshot: StateSnapshot, log: Logger): Promise<HeadObservation> {
  const head = await ports.source.branchHead(snapshot.state.head);
  log.info({ sha: head.sha, notModified: head.notModified }, "Observed branch head");
  const idle = recorded(head.sha, snapshot.state);
  if (idle !== undefined) return { snapshot, head, recorded: idle, gates: undefined };
  return { snapshot, head, recorded: undefined, gates: await observeGates(ports.gates, policy, head.sha, snapshot.state) };
}

/**
 * Asks the source host what the configured gates need about `head`, in gate order, and stops as
 * soon as a verdict is settled: a skipped head costs one request, a head whose check runs are
 * pending costs one request per tick (statuses are asked only once every check run is green).
 * With no gate configured it asks nothing. Approval and freeze windows need no request: the state
 * and the clock answer them.
 */
export async function observeGates(source: GateSource, policy: GatePolicy, head: string, state: RunnerState): Promise<GateObservation> {
  const commit = needsCommit(policy) ? await source.commit(head) : undefined;
  if (skipReason(policy, commit) !== undefined) return { commit };
  const base = state.deployed?.sha;
  const changes = policy.buildPaths.length > 0 && base !== undefined ? await source.changes(base, head) : undefined;
  if (pathVerdict(policy, state, changes).kind === "nothing-relevant") return { commit, changes };
  if (policy.checks.kind === "off") return { commit, changes };
  const checkRuns = await source.checkRuns(head);
  if (checksVerdict(policy.checks, checkRuns, undefined).kind !== "ask-statuses") return { commit, changes, checkRuns };
  return { commit, changes, checkRuns, statuses: await source.statuses(head) };
}

/**
 * Everything decide needs about the work for `head`; the registry is asked only when no build is
 * known, the release only when `known` is not given.
 */
export async function observeWork(ports: Pick<Ports, "releases" | "builds" | "registry">, head: string, state: RunnerState, known?: ReleaseObservation): Promise<WorkObservation> {
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
