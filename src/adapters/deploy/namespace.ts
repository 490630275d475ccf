import type { CoreV1Api } from "@kubernetes/client-node";
import { isStatus, kubeError } from "../kube/errors.ts";

/**
 * Whether DEPLOY_NS exists, asked as the deploy identity without changing anything: a server-side
 * dry run of creating a Secret there (the one kind helm's release records need, so the identity
 * may create it). ci-runner never creates namespaces: a chart's rights stop at its own.
 */
export async function deployNamespaceProblem(core: CoreV1Api, namespace: string): Promise<string | undefined> {
  try {
    await core.createNamespacedSecret({ namespace, body: { metadata: { generateName: "ci-runner-check-", namespace }, type: "Opaque" }, dryRun: "All" });
    return undefined;
  } catch (error) {
    if (isStatus(error, 404)) return `namespace ${namespace} (DEPLOY_NS) does not exist`;
    if (isStatus(error, 403)) return undefined; // a permission the access review names
    throw kubeError(error, `checking namespace ${namespace} (DEPLOY_NS) as the deploy identity`);
  }
}
