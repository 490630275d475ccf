import { checksVerdict, needsCommit, pathVerdict, skipReason } from "./gates.ts";
import type { GateSource } from "./ports.ts";
import type { GateObservation, GatePolicy, RunnerState } from "./types.ts";

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
  const paths = pathVerdict(policy, { state }, changes);
  if (paths.kind === "nothing-relevant") return { commit, changes };
  if (policy.checks.kind === "off") return { commit, changes };
  const checkRuns = await source.checkRuns(head);
  if (checksVerdict(policy.checks, checkRuns, undefined).kind !== "ask-statuses") return { commit, changes, checkRuns };
  return { commit, changes, checkRuns, statuses: await source.statuses(head) };
}
