import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { oneLine } from "../../text.ts";
import { cannotStart } from "../kube/pods.ts";

/**
 * Pure readings of a build Job and its pod. A pod that cannot start for a reason only a person can
 * fix (a missing Secret, an image that cannot be pulled) is reported on the tick it happens, not
 * after BUILD_TIMEOUT.
 */

/** What a person does about each reason a container cannot start (kube/pods.ts lists them), for the build pod. */
const REMEDIES: Record<string, string> = {
  CreateContainerConfigError: "create the Secret it names in CICD_NS (GIT_TOKEN_SECRET, REGISTRY_SECRET), or unset that setting",
  CreateContainerError: "check the build pod's events (kubectl -n CICD_NS describe pod)",
  InvalidImageName: "set KANIKO_IMAGE to a valid image reference",
  ImagePullBackOff: "check KANIKO_IMAGE and that the cluster's nodes can pull it",
  ErrImageNeverPull: "check KANIKO_IMAGE and the pod's imagePullPolicy",
};

export interface StartFailure {
  readonly message: string;
  readonly remedy: string;
}

/** Why the build pod cannot start, if a person must act; undefined while it may still start. */
export function startFailure(pod: V1Pod | undefined): StartFailure | undefined {
  const stuck = cannotStart([...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])]);
  if (stuck === undefined) return undefined;
  return { message: `build pod ${pod?.metadata?.name} cannot start: ${stuck.reason}${stuck.detail}`, remedy: REMEDIES[stuck.reason] ?? "check the build pod's events (kubectl -n CICD_NS describe pod)" };
}

/** True once the build container has started, so its log can be followed. */
export function containerStarted(pod: V1Pod | undefined): boolean {
  const state = pod?.status?.containerStatuses?.[0]?.state;
  return state?.running !== undefined || state?.terminated !== undefined;
}

export function finished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

/**
 * Why a finished build failed, in the words a person needs: out of memory names the limit, a
 * deadline names BUILD_TIMEOUT, otherwise Kaniko's own error line, from its log when that was read,
 * else from the termination message (the kubelet copies the log's tail into it when the digest
 * file was never written).
 */
export function failureReason(job: V1Job, pod: V1Pod | undefined, buildTimeoutSeconds: number, log?: string): string {
  const condition = (job.status?.conditions ?? []).find((c) => c.type === "Failed" && c.status === "True");
  const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  if (terminated?.reason === "OOMKilled") {
    const limit = pod?.spec?.containers?.[0]?.resources?.limits?.memory;
    return `the build ran out of memory${limit ? ` at its ${limit} limit` : ""} (OOMKilled); raise BUILD_MEMORY_LIMIT`;
  }
  if (condition?.reason === "DeadlineExceeded") return `the build did not finish within BUILD_TIMEOUT (${buildTimeoutSeconds}s)`;
  // The termination message holds only the log's last 80 lines: after Kaniko's usage text that
  // can be all flags. The log itself, when read, has the executor's own Error: line.
  const line = [log, terminated?.message].map((text) => (text ? kanikoErrorLine(text) : undefined)).find((l) => l !== undefined);
  if (line !== undefined) return `${line} (exit code ${terminated?.exitCode})`;
  if (terminated !== undefined) return `build pod exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`;
  return [condition?.reason, condition?.message].filter(Boolean).join(": ") || "build Job failed";
}

/**
 * The line of Kaniko's output that says what went wrong, cleaned of colour and log prefixes:
 * the executor's own "Error: ..." (printed before its usage text), else the last error-level log
 * line, else the last line mentioning an error that is not a flag's description.
 */
export function kanikoErrorLine(output: string): string | undefined {
  const lines = cleanLines(output);
  const fatal = lines.find((l) => /^Error: /.test(l));
  const logged = lines.filter((l) => /^(ERRO|FATA)\[|level=(error|fatal)/.test(l)).at(-1);
  const mention = lines.filter((l) => /\berror\b/i.test(l) && !/^-/.test(l)).at(-1);
  const chosen = fatal ?? logged ?? mention ?? lines.at(-1);
  if (chosen === undefined) return undefined;
  // Prefixes and an empty cause ("...: required: ") say nothing a person needs.
  return oneLine(chosen.replace(/^(Error: |(ERRO|FATA)\[\d+\]\s*|level=\w+\s*)/, "").replace(/^error:?\s*/i, "").replace(/[:\s]+$/, ""), 500);
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
/** git's progress meters, which Kaniko relays while cloning the context. */
const PROGRESS = /^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Updating|Unpacking) (objects|deltas|files)?:?\s+\d+%/;

/** Output lines as a person would read them: no colour codes, no progress meters, no blanks. */
export function cleanLines(text: string): string[] {
  return text.replace(ANSI, "").split("\n")
    .map((line) => (line.split("\r").filter((part) => part.trim() !== "").at(-1) ?? "").trim())
    .filter((line) => line !== "" && !PROGRESS.test(line));
}
