import type { CoreV1Api, CoreV1Event } from "@kubernetes/client-node";
import type { Transition } from "../../reconcile/ports.ts";
import { kubeError } from "../kube/errors.ts";
import type { NamedReporter } from "./fan-out.ts";
import { oneLine, short } from "../../text.ts";
import { failureKind, seconds } from "./text.ts";

/** The reasons, in the CamelCase form `kubectl get events` shows. */
export type EventReason =
  | "BuildStarted" | "BuildSucceeded" | "BuildFailed" | "DeployStarted" | "Deployed" | "DeployFailed"
  | "RolledBack" | "SetAside" | "LeaseContention";

export interface EventNote {
  readonly type: "Normal" | "Warning";
  readonly reason: EventReason;
  readonly message: string;
}

/** The API server refuses an Event message above 1 KiB (events.k8s.io); stay below it. */
const MAX_MESSAGE = 1000;

/** The Events a transition becomes: one, or two when the failed attempt also set the commit aside. */
export function eventsFor(t: Transition): EventNote[] {
  switch (t.kind) {
    case "build-started":
      return [{ type: "Normal", reason: "BuildStarted", message: `Building ${short(t.sha)} (attempt ${t.attempt}) in Job ${t.job}` }];
    case "build-succeeded":
      return [{ type: "Normal", reason: "BuildSucceeded", message: `Built ${short(t.sha)} as ${t.digest}${seconds(t.seconds)}` }];
    case "deploy-started":
      return [{ type: "Normal", reason: "DeployStarted", message: `Deploying ${short(t.sha)} (attempt ${t.attempt})${t.digest ? `, image ${t.digest}` : ""}` }];
    case "deployed":
      return [{ type: "Normal", reason: "Deployed", message: `Deployed ${short(t.sha)}${t.revision === undefined ? "" : ` as revision ${t.revision}`}${seconds(t.seconds)}` }];
    case "attempt-failed": {
      const kind = failureKind(t);
      const reason: EventReason = kind === "build-failed" ? "BuildFailed" : kind === "rolled-back" ? "RolledBack" : "DeployFailed";
      const failed: EventNote = { type: "Warning", reason, message: oneLine(`Attempt ${t.attempt} of ${short(t.sha)} failed: ${t.message}`, MAX_MESSAGE) };
      if (!t.setAside) return [failed];
      return [failed, { type: "Warning", reason: "SetAside", message: `Set ${short(t.sha)} aside after attempt ${t.attempt}; a newer commit or \`ci-runner retry\` lets it go on` }];
    }
    case "lease-contention":
      return [{ type: "Normal", reason: "LeaseContention", message: `Another run (${t.holder}) holds the lease until ${t.expiresAt}; this run did nothing` }];
  }
}

export interface KubeEventsOptions {
  readonly core: CoreV1Api;
  readonly namespace: string;
  /** The state ConfigMap: the Events are about it, so `kubectl describe configmap` lists them too. */
  readonly configMap: string;
  /** Who reports: the runner's pod and process, as the lease names it. */
  readonly instance: string;
  readonly now?: () => Date;
}

/**
 * Core/v1 Events on the state ConfigMap for every transition. Best effort like every receiver:
 * a refused create (no `create events` in CICD_NS) is thrown translated, naming the resource, and
 * allReporters logs it as a warning.
 */
export class KubeEvents implements NamedReporter {
  readonly name = "kubernetes-events";
  readonly #o: KubeEventsOptions;
  #uid: Promise<string | undefined> | undefined;

  constructor(options: KubeEventsOptions) {
    this.#o = options;
  }

  async report(transition: Transition): Promise<void> {
    const notes = eventsFor(transition);
    if (notes.length === 0) return;
    const uid = await this.#configMapUid();
    for (const note of notes) await this.#create(note, uid);
  }

  async #create(note: EventNote, uid: string | undefined): Promise<void> {
    const { namespace, configMap, instance } = this.#o;
    const now = (this.#o.now ?? (() => new Date()))();
    const body: CoreV1Event = {
      metadata: { generateName: `${configMap}.`, namespace },
      involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: configMap, namespace, ...(uid ? { uid } : {}) },
      reason: note.reason,
      message: note.message,
      type: note.type,
      source: { component: "ci-runner" },
      reportingComponent: "ci-runner",
      reportingInstance: instance.slice(0, 128),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.#o.core.createNamespacedEvent({ namespace, body });
    } catch (error) {
      throw kubeError(error, `recording Event ${note.reason} on ConfigMap ${namespace}/${configMap}`);
    }
  }

  /** Read once per process; an Event without the uid still shows in `kubectl get events`. */
  #configMapUid(): Promise<string | undefined> {
    this.#uid ??= this.#o.core.readNamespacedConfigMap({ name: this.#o.configMap, namespace: this.#o.namespace })
      .then((cm) => cm.metadata?.uid, () => undefined);
    return this.#uid;
  }
}
