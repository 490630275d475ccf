import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { kubeError } from "./kube.ts";

/** How often the new pods are read while helm waits. */
const POLL_MS = 2_000;

/**
 * Why a pod running the new image can never become ready, if that is already certain: a container
 * that crash-loops, or one that cannot start for a reason only a person can fix. A pod that is
 * merely slow, or whose probe has not passed yet, is not certain: helm's own timeout decides it.
 */
export function certainFailure(pod: V1Pod, image: string): string | undefined {
  const name = pod.metadata?.name ?? "?";
  const ours = new Set((pod.spec?.containers ?? []).filter((c) => c.image === image).map((c) => c.name));
  for (const status of pod.status?.containerStatuses ?? []) {
    if (!ours.has(status.name)) continue;
    const waiting = status.state?.waiting;
    if (waiting?.reason === "CrashLoopBackOff") {
      const last = status.lastState?.terminated;
      const exit = last ? `exit code ${last.exitCode}${last.reason && last.reason !== "Error" ? `, ${last.reason}` : ""}` : "no exit code";
      return `container ${status.name} of pod ${name} keeps crashing (CrashLoopBackOff, ${exit}, ${status.restartCount} restarts)`;
    }
    if (waiting?.reason !== undefined && CANNOT_START.has(waiting.reason)) {
      return `container ${status.name} of pod ${name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message.replace(/\s+/g, " ").slice(0, 200)}` : ""}`;
    }
  }
  return undefined;
}

const CANNOT_START = new Set(["ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull"]);

/**
 * Reads the deploy namespace's pods that run `image` every POLL_MS until stopped, and resolves
 * with the first certain failure. Best effort: a refused or failing read is logged once and ends
 * the watch (helm's timeout still bounds the deploy).
 */
export function watchRollout(core: CoreV1Api, namespace: string, image: string, log: Logger, stop: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (reason: string | undefined) => {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
      resolve(reason);
    };
    const onStop = () => finish(undefined);
    stop.addEventListener("abort", onStop, { once: true });
    const poll = async () => {
      try {
        const pods = await core.listNamespacedPod({ namespace });
        if (stop.aborted) return;
        for (const pod of pods.items) {
          const failure = certainFailure(pod, image);
          if (failure !== undefined) return finish(failure);
        }
        timer = setTimeout(poll, POLL_MS);
      } catch (error) {
        if (stop.aborted) return;
        const translated = kubeError(error, `reading the new pods in ${namespace}`);
        log.warn({ error: translated.message }, "Could not watch the new pods; a crash-looping release is noticed only at HELM_TIMEOUT");
        finish(undefined);
      }
    };
    if (stop.aborted) return finish(undefined);
    void poll();
  });
}
