import type { AuthorizationV1Api } from "@kubernetes/client-node";
import { type Permission } from "../../permissions.ts";
import { kubeError } from "./errors.ts";

/** Asks the API server, permission by permission, what the current identity may do. */
export async function missingPermissions(api: AuthorizationV1Api, permissions: readonly Permission[]): Promise<Permission[]> {
  const answers = await Promise.all(permissions.map(async (p) => {
    try {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview",
          spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, subresource: p.subresource, namespace: p.namespace, name: p.name } },
        },
      });
      return review.status?.allowed === true;
    } catch (error) {
      throw kubeError(error, "asking the API server for our permissions (SelfSubjectAccessReview)");
    }
  }));
  return permissions.filter((_, i) => !answers[i]);
}
