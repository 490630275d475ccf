import type { CoreV1Api } from "@kubernetes/client-node";
import { isStatus, kubeError } from "../kube/errors.ts";

/**
 * Whether CICD_NS exists, asked without changing anything: a server-side dry run of creating the
 * state ConfigMap. (A GET of the ConfigMap answers 404 whether or not its namespace exists, so
 * a missing namespace would otherwise surface only when the first run writes its state.)
 */
export async function checkBuildNamespace(core: CoreV1Api, namespace: string, stateConfigMap: string): Promise<string> {
  try {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: stateConfigMap, namespace } }, dryRun: "All" });
  } catch (error) {
    if (!isStatus(error, 409)) throw kubeError(error, `checking namespace ${namespace} (CICD_NS)`);
  }
  return `namespace ${namespace} exists`;
}
