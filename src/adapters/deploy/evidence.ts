import type { CoreV1Api, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../../log.ts";
import type { Evidence, PodEvidence } from "../../reconcile/types.ts";
import { isStatus, kubeError } from "../kube/errors.ts";
import { containersRunning, exitText, listPods, UNFINISHED } from "../kube/pods.ts";
import { oneLine } from "../../text.ts";

/** Pods looked at closely; a Deployment of many replicas fails the same way in each. */
const MAX_PODS = 2;
const LOG_LINES = 5;
const EVENTS = 3;
const SUMMARY = 400;

/**
 * What the pods running `image` show while they fail, read before helm's rollback deletes them:
 * their containers' waiting/terminated reasons, their recent Warning Events, and the last lines of
 * the failing container's log (its previous run when it restarted). Best effort: each read that is
 * refused or fails is logged once, naming what was refused, and the rest is still gathered.
 */
export async function gatherEvidence(core: CoreV1Api, namespace: string, image: string, log: Logger): Promise<Evidence | undefined> {
  const warn = warnOnce(log, namespace);
  let pods: V1Pod[];
  try {
    pods = await listPods(core, namespace, `listing the new pods in ${namespace} for rollback evidence`, { fieldSelector: UNFINISHED });
  } catch (error) {
    warn(kubeError(error, `listing the new pods in ${namespace} for rollback evidence`).message);
    return undefined;
  }
  const failing = pods.filter((pod) => runs(pod, image) && !ready(pod)).slice(0, MAX_PODS);
  if (failing.length === 0) return undefined;
  const found: PodEvidence[] = [];
  for (const pod of failing) found.push(await podEvidence(core, namespace, pod, image, warn));
  return { summary: summarize(found), pods: found };
}

async function podEvidence(core: CoreV1Api, namespace: string, pod: V1Pod, image: string, warn: (message: string) => void): Promise<PodEvidence> {
  const name = pod.metadata?.name ?? "?";
  const statuses = (pod.status?.containerStatuses ?? []).filter((s) => s.image === image || containersRunning(pod, image).has(s.name));
  const containers = statuses.map(describeContainer);
  if (containers.length === 0) containers.push(`not started: ${pod.status?.phase ?? "Pending"}${pod.status?.reason ? ` (${pod.status.reason})` : ""}`);
  let events: string[] = [];
  try {
    const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` });
    events = list.items
      .filter((e) => e.type === "Warning")
      .sort((a, b) => time(a.lastTimestamp ?? a.eventTime) - time(b.lastTimestamp ?? b.eventTime))
      .slice(-EVENTS)
      .map((e) => `${e.reason ?? "?"}: ${oneLine(e.message ?? "", 200)}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ""}`);
  } catch (error) {
    warn(kubeError(error, `listing the Events of pod ${namespace}/${name} for rollback evidence`).message);
  }
  // A container that has not started has no status yet; its log is asked for all the same (the
  // API server says 400 until there is one).
  const failingContainer = statuses.find((s) => !s.ready) ?? statuses[0] ?? notStarted(pod, image);
  const logTail = failingContainer ? await lastLines(core, namespace, name, failingContainer, warn) : [];
  return { pod: name, containers, events, logTail };
}

async function lastLines(core: CoreV1Api, namespace: string, pod: string, status: V1ContainerStatus, warn: (message: string) => void): Promise<string[]> {
  // A container that restarted has the interesting lines in its previous run.
  const previous = status.restartCount > 0 && status.state?.running === undefined;
  for (const attempt of previous ? [true, false] : [false]) {
    try {
      const text = await core.readNamespacedPodLog({ name: pod, namespace, container: status.name, tailLines: LOG_LINES, limitBytes: 4096, previous: attempt });
      return String(text).split("\n").map((l) => l.trimEnd()).filter(Boolean).slice(-LOG_LINES);
    } catch (error) {
      // No previous run to read (400): try the current one. No log at all yet (400) or no pod
      // any more (404) is no problem to warn about; a refusal is.
      if (attempt && isStatus(error, 400)) continue;
      if (!isStatus(error, 400) && !isStatus(error, 404)) warn(kubeError(error, `reading the log of pod ${namespace}/${pod} for rollback evidence`).message);
      return [];
    }
  }
  return [];
}

function describeContainer(s: V1ContainerStatus): string {
  const parts: string[] = [];
  if (s.state?.waiting) parts.push(`waiting ${s.state.waiting.reason ?? "?"}${s.state.waiting.message && s.state.waiting.reason !== "CrashLoopBackOff" ? ` (${oneLine(s.state.waiting.message, 160)})` : ""}`);
  if (s.state?.terminated) parts.push(`terminated ${s.state.terminated.reason ?? "?"}, exit code ${s.state.terminated.exitCode}`);
  if (s.state?.running) parts.push(s.ready ? "running" : "running, not ready");
  const last = s.lastState?.terminated;
  if (last) parts.push(`last ${exitText(last)}`);
  if (s.restartCount > 0) parts.push(`${s.restartCount} restart${s.restartCount > 1 ? "s" : ""}`);
  return `${s.name}: ${parts.join(", ") || "unknown state"}`;
}

/** One line: the first failing pod's containers, its newest Warning Event and its last log line. */
function summarize(pods: readonly PodEvidence[]): string {
  const [first] = pods;
  if (!first) return "";
  const parts = [`pod ${first.pod}: ${first.containers.join("; ")}`];
  const event = first.events.at(-1);
  if (event) parts.push(event);
  const line = first.logTail.at(-1);
  if (line) parts.push(`last log line: ${JSON.stringify(oneLine(line, 160))}`);
  if (pods.length > 1) parts.push(`and ${pods.length - 1} more pod${pods.length > 2 ? "s" : ""}`);
  return oneLine(parts.join("; "), SUMMARY);
}

/** The part of the summary a reason that already names the pod and its state does not say. */
export function evidenceDetails(evidence: Evidence): string {
  const [first] = evidence.pods;
  if (!first) return "";
  const event = first.events.at(-1);
  const line = first.logTail.at(-1);
  return [event, line ? `last log line: ${JSON.stringify(oneLine(line, 160))}` : undefined].filter(Boolean).join("; ");
}

function notStarted(pod: V1Pod, image: string): V1ContainerStatus | undefined {
  const name = [...containersRunning(pod, image)][0];
  return name === undefined ? undefined : { name, image, imageID: "", ready: false, restartCount: 0 };
}

function runs(pod: V1Pod, image: string): boolean {
  return containersRunning(pod, image).size > 0 && pod.metadata?.deletionTimestamp === undefined;
}

function ready(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

function time(value: Date | string | undefined): number {
  return value === undefined ? 0 : new Date(value).getTime();
}

/** A refused read is said once per gathering, naming what was refused; the others are skipped quietly. */
function warnOnce(log: Logger, namespace: string): (message: string) => void {
  const said = new Set<string>();
  return (message) => {
    const key = message.replace(/pod \S+/, "pod");
    if (said.has(key)) return;
    said.add(key);
    log.warn({ namespace, error: message }, "Could not gather all of the rollback evidence; the attempt's error says less");
  };
}
