import type { KubeObject } from "../adapters/kube/object.ts";
import type { ChartKinds } from "./kinds.ts";

/** Objects of any kind, by server-side apply (adapters/kube/objects.ts is the real one). */
export interface ObjectStore {
  apply(object: KubeObject, dryRun?: boolean): Promise<KubeObject>;
  read(object: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, labelSelector: string): Promise<KubeObject[]>;
  remove(object: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<void>;
}

/** What `ci-runner install` and `uninstall` ask of the cluster besides the pass's ports. */
export interface InstallCluster extends ObjectStore {
  /** The chart at `sha`, rendered with VALUES_FILES: the kinds it makes, and what cannot be granted. */
  chart(sha: string): Promise<ChartKinds & { readonly rendered: number }>;
  /** The registry Secret exists and holds credentials for IMAGE's registry (a ConfigError if not). */
  registrySecret(): Promise<string>;
}

