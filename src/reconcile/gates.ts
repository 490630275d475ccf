import { activeFreeze } from "./freeze.ts";
import type { Action, ChangeSet, Check, ChecksPolicy, CommitInfo, GatePolicy, Observation, RunnerState } from "./types.ts";

/**
 * The gates a new head passes before it is built and deployed, in order: skip markers and bot
 * authors, path filters, checks, approval, freeze windows. Pure: decide.ts and `status` use the
 * same verdicts; observe.ts uses them to ask GitHub no more than the next verdict needs.
 */

export const SKIP_MARKERS = ["[skip ci]", "[ci skip]", "[skip deploy]"] as const;

/** Why the head is not worth building at all, from its message and author; undefined: it is. */
export function skipReason(policy: GatePolicy, commit: CommitInfo | undefined): string | undefined {
  if (!needsCommit(policy)) return undefined;
  if (commit === undefined) throw new Error("gates: the head commit's message and author were not observed");
  if (policy.skipMarkers) {
    const message = commit.message.toLowerCase();
    const marker = SKIP_MARKERS.find((m) => message.includes(m));
    if (marker !== undefined) return `its message carries ${marker}`;
  }
  const author = policy.skipAuthors.find((a) => [commit.authorName, commit.authorEmail].some((x) => x.toLowerCase() === a.toLowerCase()));
  if (author !== undefined) return `its author ${author} is in SKIP_AUTHORS`;
  return undefined;
}

export function needsCommit(policy: GatePolicy): boolean {
  return policy.skipMarkers || policy.skipAuthors.length > 0;
}

export type PathVerdict =
  | { readonly kind: "build"; readonly why: string }
  /** Only the chart or values changed: deploy them with the image the release already runs. */
  | { readonly kind: "reuse-image"; readonly imageSha: string; readonly digest: string | undefined }
  | { readonly kind: "nothing-relevant"; readonly reason: string };

/** What the files changed since the deployed commit call for. Without a path filter: a build. */
export function pathVerdict(policy: GatePolicy, state: RunnerState, changes: ChangeSet | undefined): PathVerdict {
  const deployed = state.deployed;
  if (policy.buildPaths.length === 0) return { kind: "build", why: "no BUILD_PATHS" };
  if (deployed === undefined) return { kind: "build", why: "nothing deployed yet to compare with" };
  if (changes === undefined || changes.base !== deployed.sha) throw new Error("gates: the changes since the deployed commit were not observed");
  if (!changes.complete) return { kind: "build", why: changes.why };
  const under = (prefixes: readonly string[]) => changes.files.filter((f) => prefixes.some((p) => f === p || f.startsWith(`${p.replace(/\/+$/, "")}/`)));
  const build = under(policy.buildPaths);
  if (build.length > 0) return { kind: "build", why: `${build[0]} changed` };
  if (under(policy.deployPaths).length > 0) return { kind: "reuse-image", imageSha: deployed.imageSha ?? deployed.sha, digest: deployed.digest };
  return { kind: "nothing-relevant", reason: `nothing under BUILD_PATHS, the chart or the values files changed since ${deployed.sha.slice(0, 12)}` };
}

export type ChecksVerdict =
  | { readonly kind: "green" }
  | { readonly kind: "pending"; readonly reason: string }
  | { readonly kind: "failure"; readonly reason: string }
  /** Every check run is green, but the verdict also needs the commit statuses. */
  | { readonly kind: "ask-statuses" };

/**
 * The checks of the head: any red one fails it, any pending or missing one holds it. Statuses are
 * `undefined` until asked: a pending or red check run settles the verdict without them.
 */
export function checksVerdict(policy: ChecksPolicy, runs: readonly Check[] | undefined, statuses: readonly Check[] | undefined): ChecksVerdict {
  if (policy.kind === "off") return { kind: "green" };
  if (runs === undefined) throw new Error("gates: the head's check runs were not observed");
  const all = [...runs, ...(statuses ?? [])];
  // A required check may name who must report it (`test@github-actions`): the commit's own
  // workflow chooses check names, so a name alone can be reported green by anyone who can push.
  const wanted = (c: Check) => policy.kind === "named" && policy.names.some((n) => requirement(n).matches(c));
  const relevant = policy.kind === "all" ? all : all.filter(wanted);
  const failed = relevant.find((c) => c.state === "failure");
  if (failed !== undefined) return { kind: "failure", reason: `check "${failed.name}" failed${failed.url ? `: ${failed.url}` : ""}` };
  const pending = relevant.find((c) => c.state === "pending");
  if (pending !== undefined) return { kind: "pending", reason: `check "${pending.name}" is pending${pending.url ? `: ${pending.url}` : ""}` };
  const missing = policy.kind === "named" ? policy.names.filter((n) => !relevant.some((c) => requirement(n).matches(c))) : [];
  if (statuses === undefined && (policy.kind === "all" || missing.length > 0)) return { kind: "ask-statuses" };
  if (missing.length > 0) return { kind: "pending", reason: `check "${missing[0]}" has not reported yet` };
  if (relevant.length === 0) return { kind: "pending", reason: "no check has reported yet" };
  return { kind: "green" };
}

/** Every gate let the head through; the path filter's verdict goes on to the work. */
export interface Through {
  readonly kind: "through";
  readonly paths: PathVerdict;
}

/** A REQUIRED_CHECKS entry: a name, optionally `@` the App slug or login that must report it. */
function requirement(entry: string): { matches: (c: Check) => boolean } {
  const at = entry.lastIndexOf("@");
  const name = at > 0 ? entry.slice(0, at) : entry;
  const reporter = at > 0 ? entry.slice(at + 1) : undefined;
  return { matches: (c) => c.name === name && (reporter === undefined || c.reporter === reporter) };
}

/**
 * The action a gate takes for the head, or Through when every gate lets it through to the work.
 * Only for a head that is neither deployed, set aside nor seen.
 */
export function gateAction(obs: Observation, policy: GatePolicy): Action | Through {
  const { head, state } = obs;
  const gates = obs.gates;
  if (gates === undefined) throw new Error("decide: head needs work but its gates were not observed");
  const skip = skipReason(policy, gates.commit);
  if (skip !== undefined) return { kind: "record-seen", sha: head, reason: skip };
  const paths = pathVerdict(policy, state, gates.changes);
  if (paths.kind === "nothing-relevant") return { kind: "record-seen", sha: head, reason: paths.reason };
  const checks = checksVerdict(policy.checks, gates.checkRuns, gates.statuses);
  if (checks.kind === "ask-statuses") throw new Error("gates: the head's commit statuses were not observed");
  if (checks.kind === "failure") return { kind: "set-aside", sha: head, gate: "checks", reason: checks.reason };
  if (checks.kind === "pending") return { kind: "hold", sha: head, gate: "checks", reason: `waiting: ${checks.reason}` };
  if (policy.approval && state.approved?.sha !== head) {
    return { kind: "hold", sha: head, gate: "approval", reason: `waiting for approval: \`ci-runner approve ${head}\`` };
  }
  const freeze = activeFreeze(policy.freeze, new Date(obs.now));
  if (freeze !== undefined) {
    const until = freeze.until.toISOString();
    return { kind: "hold", sha: head, gate: "freeze", reason: `deploy freeze "${freeze.window.text}" until ${until}`, until };
  }
  return { kind: "through", paths };
}

/** No gate at all: the default, and what a pass without gate settings observes nothing for. */
export const NO_GATES: GatePolicy = { skipMarkers: false, skipAuthors: [], buildPaths: [], deployPaths: [], checks: { kind: "off" }, approval: false, freeze: [] };
