import { BatchV1Api } from "@kubernetes/client-node";
import { apiClient, kubeConfig } from "../adapters/kube/client.ts";
import type { KubeTarget } from "../adapters/kube/kubeconfig.ts";
import { CronJobTicks } from "../adapters/kube/ticks.ts";

/** Each call must end well inside GitHub's 10 s: three calls at most per delivery. */
const RECEIVER_REQUEST_MS = 2_500;

export function cronJobTicks(target: KubeTarget, namespace: string, cronJob: string): CronJobTicks {
  return new CronJobTicks(apiClient(kubeConfig(target), BatchV1Api, RECEIVER_REQUEST_MS), namespace, cronJob);
}
