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
} as const;

export const MANAGER = "ci-runner";

const MAX_NAME = 63;

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

export function buildLabels(release: string, sha: string, attempt: number): Record<string, string> {
  return { [LABELS.managedBy]: MANAGER, [LABELS.target]: release, [LABELS.sha]: sha, [LABELS.attempt]: String(attempt) };
}

/** Label selector for every build Job of one target. */
export function targetSelector(release: string): string {
  return `${LABELS.managedBy}=${MANAGER},${LABELS.target}=${release}`;
}
