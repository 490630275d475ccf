import { type KubeConfig, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { apiClient } from "./client.ts";
import { ConfigError, type RunnerError } from "../../errors.ts";
import { isStatus, kubeError } from "./errors.ts";
import { describe, type KubeObject } from "./object.ts";

/** What the API server says of a kind: its resource name and whether it lives in a namespace. */
export interface ServedKind {
  readonly resource: string;
  readonly namespaced: boolean;
}

/** The generic object client, with its discovery made public (the client keeps it protected). */
class Discovering extends KubernetesObjectApi {
  served(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }
}

/**
 * Objects of any kind, by server-side apply under one field manager: what `ci-runner install`
 * writes, reads back and removes. Every request has the client's deadline (client.ts).
 */
export class ClusterObjects {
  readonly #api: Discovering;
  readonly #manager: string;

  constructor(kc: KubeConfig, deadlineMs: number, fieldManager: string) {
    this.#api = apiClient(kc, Discovering, deadlineMs);
    this.#manager = fieldManager;
  }

  /** undefined: the cluster serves no such kind (a CRD not installed, a group it does not know). */
  async served(apiVersion: string, kind: string): Promise<ServedKind | undefined> {
    try {
      const found = await this.#api.served(apiVersion, kind);
      return found === undefined ? undefined : { resource: found.name, namespaced: found.namespaced };
    } catch (error) {
      // The client says so in words when the group is served and the kind is not.
      if (isStatus(error, 404) || unserved(error)) return undefined;
      throw kubeError(error, `asking the API server which resource serves ${kind} (${apiVersion})`);
    }
  }

  /** Server-side apply; `dryRun`: the API server validates and admits it, and stores nothing. */
  async apply(object: KubeObject, dryRun = false): Promise<KubeObject> {
    try {
      return await this.#api.patch(object, undefined, dryRun ? "All" : undefined, this.#manager, true, PatchStrategy.ServerSideApply) as KubeObject;
    } catch (error) {
      throw translate(error, `${dryRun ? "checking" : "applying"} ${describe(object)}`, object);
    }
  }

  async read(object: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<KubeObject | undefined> {
    try {
      return await this.#api.read({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } }) as KubeObject;
    } catch (error) {
      if (isStatus(error, 404) || unserved(error)) return undefined;
      throw kubeError(error, `reading ${describe(object)}`);
    }
  }

  /** Every object of a kind with these labels, in every namespace. */
  async list(apiVersion: string, kind: string, labelSelector: string): Promise<KubeObject[]> {
    try {
      const list = await this.#api.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, labelSelector);
      return (list.items as KubeObject[]).map((item) => ({ ...item, apiVersion, kind }));
    } catch (error) {
      // A kind the cluster does not serve holds none of ours.
      if (isStatus(error, 404) || unserved(error)) return [];
      throw kubeError(error, `listing ${kind} labelled ${labelSelector}`);
    }
  }

  /** Deletes it, with its dependents in the background; already gone is fine. */
  async remove(object: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<void> {
    try {
      await this.#api.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } }, undefined, undefined, undefined, undefined, "Background");
    } catch (error) {
      if (isStatus(error, 404) || unserved(error)) return;
      throw kubeError(error, `deleting ${describe(object)}`);
    }
  }
}

/** The client's own words when the API server serves the group but not the kind (no status code). */
function unserved(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Unrecognized API version and kind");
}

function translate(error: unknown, what: string, object: Pick<KubeObject, "apiVersion" | "kind">): RunnerError {
  if (!unserved(error)) return kubeError(error, what);
  return new ConfigError(`${what}: this cluster serves no ${object.kind} in ${object.apiVersion}`, "ci-runner's admission policies need Kubernetes 1.30 or later (admissionregistration.k8s.io/v1); upgrade the cluster");
}
