import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../../log.ts";
import { kubeError } from "../kube/errors.ts";
import { cannotStart, containersRunning, exitText, listPods, UNFINISHED } from "../kube/pods.ts";

/** How often the new pods are read while helm waits. */
const POLL_MS = 2_000;

/**
 * Why a pod running the new image can never become ready, if that is already certain: a container
 * that crash-loops, or one that cannot start for a reason only a person can fix. A pod that is
 * merely slow, or whose probe has not passed yet, is not certain: helm's own timeout decides it.
 */
export function certainFailure(pod: V1Pod, image: string): string | undefined {
  const name = pod.metadata?.name ?? "?";
  const ours = containersRunning(pod, image);
  const statuses = (pod.status?.containerStatuses ?? []).filter((s) => ours.has(s.name));
  const crashing = statuses.find((s) => s.state?.waiting?.reason === "CrashLoopBackOff");
  if (crashing !== undefined) {
    return `container ${crashing.name} of pod ${name} keeps crashing (CrashLoopBackOff, ${exitText(crashing.lastState?.terminated)}, ${crashing.restartCount} restarts)`;
  }
  const stuck = cannotStart(statuses);
  return stuck && `container ${stuck.status.name} of pod ${name} cannot start: ${stuck.reason}${stuck.detail}`;
}

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
        const pods = await listPods(core, namespace, `reading the new pods in ${namespace}`, { fieldSelector: UNFINISHED });
        if (stop.aborted) return;
        for (const pod of pods) {
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
