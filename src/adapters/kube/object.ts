import type { KubernetesObject } from "@kubernetes/client-node";

/** A Kubernetes object as install writes and reads it: anything with a kind and a name. */
export interface KubeObject extends KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: NonNullable<KubernetesObject["metadata"]> & { readonly name: string };
  readonly [field: string]: unknown;
}

/** "Kind namespace/name", as kubectl names an object. Apart from objects.ts: printing one loads no Kubernetes client. */
export function describe(object: Pick<KubeObject, "kind" | "metadata">): string {
  return `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`;
}
