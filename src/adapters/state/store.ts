import type { CoreV1Api } from "@kubernetes/client-node";
import { ConflictError } from "../../errors.ts";
import { LABELS, MANAGER } from "../../names.ts";
import type { StateStore } from "../../reconcile/ports.ts";
import type { RunnerState, StateSnapshot } from "../../reconcile/types.ts";
import { httpTransport, type Transport } from "../http/transport.ts";
import { isStatus, kubeError } from "../kube/errors.ts";
import type { StaticAccess } from "../kube/kubeconfig.ts";
import { decodeState, encodeState } from "./codec.ts";

export interface StateStoreOptions {
  readonly namespace: string;
  readonly name: string;
  readonly release: string;
  /** The target's static credentials, when it has them: the idle tick's read then needs no Kubernetes client. */
  readonly access: StaticAccess | undefined;
  /** The Kubernetes client, made on its first use: every write, and a read the fast path cannot do. */
  readonly core: () => Promise<CoreV1Api>;
  /** The deadline of one API request (http/timeouts.ts). */
  readonly deadlineMs: number;
  /** Carries the fast read; ci-runner's HTTP client by default. */
  readonly transport?: Transport;
}

/**
 * The state ConfigMap, and the only reader and writer of it. Reads are one GET; every write is a
 * merge patch that carries the resourceVersion it was based on, so the API server refuses it (409)
 * if anyone wrote in between.
 *
 * The read takes a fast path first: a plain HTTPS GET with static credentials, without loading
 * the Kubernetes client, which costs about 0.17 s and 50 MB per process (see bench/); 1,440 ticks
 * a day mostly find nothing new. Any answer but 200 or 404 there, or credentials that are not
 * static (exec plugins, auth providers, proxies), and the client does the read and reports errors.
 */
export class ConfigMapStateStore implements StateStore {
  readonly #o: StateStoreOptions;
  readonly #transport: Transport | undefined;

  constructor(options: StateStoreOptions) {
    this.#o = options;
    const { access } = options;
    this.#transport = access && (options.transport ?? httpTransport({ idleTimeoutMs: options.deadlineMs, tls: { ca: access.ca, cert: access.cert, key: access.key, verify: !access.insecure } }));
  }

  get where(): string {
    return `configmap ${this.#o.namespace}/${this.#o.name}`;
  }

  async read(): Promise<StateSnapshot> {
    const fast = await this.#fastRead();
    if (fast !== undefined) return fast;
    const { namespace, name } = this.#o;
    try {
      const cm = await (await this.#o.core()).readNamespacedConfigMap({ name, namespace });
      return snapshotOf(cm.metadata);
    } catch (error) {
      if (isStatus(error, 404)) return { state: {}, resourceVersion: undefined, warnings: [] };
      throw kubeError(error, `reading state ${this.where}`);
    }
  }

  async write(next: RunnerState, resourceVersion: string | undefined): Promise<StateSnapshot> {
    if (resourceVersion === undefined) return this.#create(next);
    const { namespace, name } = this.#o;
    const body = { metadata: { resourceVersion, annotations: encodeState(next) } };
    const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
    try {
      const cm = await (await this.#o.core()).patchNamespacedConfigMap(
        { name, namespace, body, fieldManager: MANAGER },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return { ...snapshotOf(cm.metadata), warnings: [] };
    } catch (error) {
      if (isStatus(error, 404)) throw new ConflictError(`writing state ${this.where}: it was deleted since we read it`, "the next pass starts from empty state");
      throw kubeError(error, `writing state ${this.where}`);
    }
  }

  /** First write: create. AlreadyExists means another run created it first: a lost CAS. */
  async #create(next: RunnerState): Promise<StateSnapshot> {
    const { namespace, name, release } = this.#o;
    const annotations = Object.fromEntries(Object.entries(encodeState(next)).filter((e): e is [string, string] => e[1] !== null));
    try {
      const cm = await (await this.#o.core()).createNamespacedConfigMap({
        namespace,
        body: { metadata: { name, namespace, annotations, labels: { [LABELS.managedBy]: MANAGER, [LABELS.target]: release } } },
        fieldManager: MANAGER,
      });
      return { ...snapshotOf(cm.metadata), warnings: [] };
    } catch (error) {
      if (isStatus(error, 409)) throw new ConflictError(`creating state ${this.where}: another run created it first`, "the next pass re-reads it");
      throw kubeError(error, `creating state ${this.where}`);
    }
  }

  /** The GET with static credentials; undefined when anything is off, so the client takes over. */
  async #fastRead(): Promise<StateSnapshot | undefined> {
    const { access } = this.#o;
    if (access === undefined || this.#transport === undefined) return undefined;
    const { namespace, name } = this.#o;
    const url = `${access.server.replace(/\/+$/, "")}/api/v1/namespaces/${namespace}/configmaps/${name}`;
    try {
      const response = await this.#transport(url, {
        headers: { accept: "application/json", "user-agent": "ci-runner", ...(access.token ? { authorization: `Bearer ${access.token}` } : {}) },
        redirect: "error",
        signal: AbortSignal.timeout(this.#o.deadlineMs),
      });
      if (response.status === 404) return { state: {}, resourceVersion: undefined, warnings: [] };
      if (response.status !== 200) return undefined;
      return snapshotOf(((await response.json()) as { metadata?: ConfigMapMeta }).metadata);
    } catch {
      return undefined;
    }
  }
}

interface ConfigMapMeta {
  readonly resourceVersion?: string | undefined;
  readonly annotations?: Record<string, string> | undefined;
}

function snapshotOf(metadata: ConfigMapMeta | undefined): StateSnapshot {
  const { state, warnings } = decodeState(metadata?.annotations);
  return { state, resourceVersion: metadata?.resourceVersion, warnings };
}
