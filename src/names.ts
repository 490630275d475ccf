/**
 * Deterministic names: the name is the lock. A second run that computes the same name for the same
 * SHA and attempt finds the first run's Job instead of building twice.
 */

export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  target: "ci-runner.dev/target",
  sha: "ci-runner.dev/sha",
  attempt: "ci-runner.dev/attempt",
} as const;

export const MANAGER = "ci-runner";

const MAX_NAME = 63;

/** Build Job name: <release>-<sha12>-<attempt>, shortened so the whole stays a valid label value. */
export function buildJobName(release: string, sha: string, attempt: number): string {
  const suffix = `-${sha.slice(0, 12)}-${attempt}`;
  const prefix = `build-${release}`.slice(0, MAX_NAME - suffix.length).replace(/-+$/, "");
  return `${prefix}${suffix}`;
}

export function buildLabels(release: string, sha: string, attempt: number): Record<string, string> {
  return { [LABELS.managedBy]: MANAGER, [LABELS.target]: release, [LABELS.sha]: sha, [LABELS.attempt]: String(attempt) };
}

/** Label selector for every build Job of one target. */
export function targetSelector(release: string): string {
  return `${LABELS.managedBy}=${MANAGER},${LABELS.target}=${release}`;
}
