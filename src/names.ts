import { createHash } from "node:crypto";

/**
 * Deterministic names: the name is the lock. A second run that computes the same name for the same
 * SHA and attempt finds the first run's Job instead of building twice. A lock only works if it is
 * unique per target, so a shortened name carries a hash of the full identity.
 */

export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  target: "ci-runner.dev/target",
  sha: "ci-runner.dev/sha",
  attempt: "ci-runner.dev/attempt",
  /** On an image: how it was built (build/job.ts `buildRecipe`). */
  recipe: "ci-runner.dev/recipe",
  /** On what `ci-runner install` made: the release it installed, or `shared` for the policies. */
  installation: "ci-runner.dev/installation",
  /** On a Job `ci-runner receive` started: `push`, and the CronJob it copies. */
  trigger: "ci-runner.dev/trigger",
  cronJob: "ci-runner.dev/cronjob",
} as const;

export const MANAGER = "ci-runner";
/** The field manager and managed-by label of `ci-runner install`. */
export const INSTALL_MANAGER = "ci-runner-install";

const MAX_NAME = 63;
/** Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ALIAS_SUFFIX = "-latest";

/** A short, stable digest of a full identity, for names that had to be shortened. */
export function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/**
 * Build Job name: build-<release>-<sha12>-<attempt>, at most 63 characters (Kubernetes copies it
 * into the pod's `job-name` label). When it does not fit, the release is cut and a hash of the
 * whole release is added, so two releases sharing a long prefix never share a Job. The release is
 * the target's identity inside CICD_NS (it names the state ConfigMap and the target label too).
 */
export function buildJobName(release: string, sha: string, attempt: number): string {
  const suffix = `-${sha.slice(0, 12)}-${attempt}`;
  const full = `build-${release}`;
  if (full.length + suffix.length <= MAX_NAME) return `${full}${suffix}`;
  const hash = `-${shortHash(release)}`;
  const prefix = full.slice(0, MAX_NAME - suffix.length - hash.length).replace(/-+$/, "");
  return `${prefix}${hash}${suffix}`;
}

/**
 * The moving alias `<branch>-latest` pushed beside the immutable SHA tag. Characters a tag may not
 * hold become '-'; when the result is still no valid tag (too long, or starting with '.' or '-'),
 * the branch is cut, its invalid first characters dropped, and a hash of the whole branch added, so
 * two such branches never push the same alias.
 */
export function branchTag(branch: string): string {
  const readable = branch.replace(/[^A-Za-z0-9_.-]/g, "-");
  const tag = `${readable}${ALIAS_SUFFIX}`;
  if (TAG.test(tag)) return tag;
  const hash = `-${shortHash(branch)}`;
  const head = readable.replace(/^[.-]+/, "").slice(0, 128 - hash.length - ALIAS_SUFFIX.length).replace(/[.-]+$/, "");
  return `${head}${head ? hash : hash.slice(1)}${ALIAS_SUFFIX}`;
}

export function buildLabels(release: string, sha: string, attempt: number): Record<string, string> {
  return { [LABELS.managedBy]: MANAGER, [LABELS.target]: release, [LABELS.sha]: sha, [LABELS.attempt]: String(attempt) };
}

/** Label selector for every build Job of one target. */
export function targetSelector(release: string): string {
  return `${LABELS.managedBy}=${MANAGER},${LABELS.target}=${release}`;
}

/**
 * The Job `ci-runner receive` starts for a pushed head: <cronjob>-push-<sha12>, so a redelivered
 * webhook, or a second push of the same head, finds the first Job instead of starting another.
 */
export function pushJobName(cronJob: string, sha: string): string {
  const suffix = `-push-${sha.slice(0, 12)}`;
  if (cronJob.length + suffix.length <= MAX_NAME) return `${cronJob}${suffix}`;
  const hash = `-${shortHash(cronJob)}`;
  return `${cronJob.slice(0, MAX_NAME - suffix.length - hash.length).replace(/-+$/, "")}${hash}${suffix}`;
}

/** The Secret that hands one build Job its GitHub App token: named after the Job, so the name is the lock. */
export function tokenSecretName(job: string): string {
  return `${job}-git-token`;
}
