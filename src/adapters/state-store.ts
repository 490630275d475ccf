import { ApiException, type CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { ConflictError } from "../errors.ts";
import type { StateStore } from "../reconcile/ports.ts";
import { decodeState, encodeState } from "../reconcile/state-codec.ts";
import type { RunnerState, StateSnapshot } from "../reconcile/types.ts";
import { LABELS, MANAGER } from "../names.ts";
import { isStatus, kubeError } from "./kube.ts";

/**
 * The state ConfigMap. Reads are one GET; every write is a merge patch that carries the
 * resourceVersion it was based on, so the API server refuses it (409) if anyone wrote in between.
 */
export class ConfigMapStateStore implements StateStore {
  readonly #api: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #release: string;

  constructor(api: CoreV1Api, namespace: string, name: string, release: string) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
    this.#release = release;
  }

  get where(): string {
    return `configmap ${this.#namespace}/${this.#name}`;
  }

  async read(): Promise<StateSnapshot> {
    try {
      const cm = await this.#api.readNamespacedConfigMap({ name: this.#name, namespace: this.#namespace });
      const { state, warnings } = decodeState(cm.metadata?.annotations);
      return { state, resourceVersion: cm.metadata?.resourceVersion, warnings };
    } catch (error) {
      if (isStatus(error, 404)) return { state: {}, resourceVersion: undefined, warnings: [] };
      throw kubeError(error, `reading state ${this.where}`);
    }
  }

  async write(next: RunnerState, resourceVersion: string | undefined): Promise<StateSnapshot> {
    if (resourceVersion === undefined) return this.#create(next);
    const body = { metadata: { resourceVersion, annotations: encodeState(next) } };
    try {
      const cm = await this.#api.patchNamespacedConfigMap(
        { name: this.#name, namespace: this.#namespace, body, fieldManager: MANAGER },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return { state: decodeState(cm.metadata?.annotations).state, resourceVersion: cm.metadata?.resourceVersion, warnings: [] };
    } catch (error) {
      if (isStatus(error, 404)) throw new ConflictError(`writing state ${this.where}: it was deleted since we read it`, "the next pass starts from empty state");
      throw kubeError(error, `writing state ${this.where}`);
    }
  }

  /** First write: create. AlreadyExists means another run created it first: a lost CAS. */
  async #create(next: RunnerState): Promise<StateSnapshot> {
    const annotations = Object.fromEntries(Object.entries(encodeState(next)).filter((e): e is [string, string] => e[1] !== null));
    try {
      const cm = await this.#api.createNamespacedConfigMap({
        namespace: this.#namespace,
        body: {
          metadata: { name: this.#name, namespace: this.#namespace, annotations, labels: { [LABELS.managedBy]: MANAGER, [LABELS.target]: this.#release } },
        },
        fieldManager: MANAGER,
      });
      return { state: decodeState(cm.metadata?.annotations).state, resourceVersion: cm.metadata?.resourceVersion, warnings: [] };
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) throw new ConflictError(`creating state ${this.where}: another run created it first`, "the next pass re-reads it");
      throw kubeError(error, `creating state ${this.where}`);
    }
  }
}
