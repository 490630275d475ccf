import type { CoreV1Api, V1ContainerStateTerminated, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { oneLine } from "../../text.ts";
import { kubeError } from "./errors.ts";

/**
 * Readings of pods shared by the build (its Kaniko pod) and the deploy (the release's new pods):
 * which of a pod's containers run an image, why a container cannot start, how it exited.
 */

/**
 * Why a container waits that only a person can fix: it will not start by itself. The build names
 * the setting to change for each (build/pod.ts); the deploy ends helm's wait early.
 */
export const CANNOT_START = new Set(["CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "ImagePullBackOff", "ErrImageNeverPull"]);

/** A page of a pod list: a namespace with many pods is read in pages, never in one answer. */
const PAGE = 100;

/** The containers of `pod` that run `image`, by name. */
export function containersRunning(pod: V1Pod, image: string): Set<string> {
  return new Set((pod.spec?.containers ?? []).filter((c) => c.image === image).map((c) => c.name));
}

/** The first container of `statuses` waiting for a reason that needs a person, with that reason. */
export function cannotStart(statuses: readonly V1ContainerStatus[]): { status: V1ContainerStatus; reason: string; detail: string } | undefined {
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason === undefined || !CANNOT_START.has(waiting.reason)) continue;
    return { status, reason: waiting.reason, detail: waiting.message ? `: ${oneLine(waiting.message, 300)}` : "" };
  }
  return undefined;
}

/** "exit code 3" or "exit code 137, OOMKilled": Error, the reason of any non-zero exit, says nothing. */
export function exitText(terminated: V1ContainerStateTerminated | undefined): string {
  if (terminated === undefined) return "no exit code";
  return `exit code ${terminated.exitCode}${terminated.reason && terminated.reason !== "Error" ? `, ${terminated.reason}` : ""}`;
}

/** Pods of a namespace, page by page; `selector` narrows them where the caller knows how. */
export async function listPods(core: CoreV1Api, namespace: string, what: string, selector: { labelSelector?: string; fieldSelector?: string } = {}): Promise<V1Pod[]> {
  const pods: V1Pod[] = [];
  let next: string | undefined;
  do {
    try {
      const page = await core.listNamespacedPod({ namespace, ...selector, limit: PAGE, ...(next ? { _continue: next } : {}) });
      pods.push(...page.items);
      next = page.metadata?._continue || undefined;
    } catch (error) {
      throw kubeError(error, what);
    }
  } while (next !== undefined);
  return pods;
}

/** Pods that have not finished: a Succeeded or Failed pod runs nothing that could still fail. */
export const UNFINISHED = "status.phase!=Succeeded,status.phase!=Failed";
