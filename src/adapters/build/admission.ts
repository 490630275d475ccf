import type { BatchV1Api } from "@kubernetes/client-node";
import type { Config } from "../../config/load.ts";
import { kanikoJob } from "./job.ts";
import { kubeError } from "../kube/errors.ts";

/**
 * For `doctor`: would the cluster admit the build Job a tick creates? A server-side dry run of
 * exactly that Job (under a generated name, so an existing Job cannot answer first) runs every
 * admission check there is, ci-runner's own build policy included, and changes nothing.
 */
export async function checkBuildAdmitted(batch: BatchV1Api, config: Config, sha: string): Promise<string> {
  const job = kanikoJob(config, sha, 1);
  const { name: _name, ...metadata } = job.metadata ?? {};
  const body = { ...job, metadata: { ...metadata, generateName: "build-doctor-" } };
  try {
    await batch.createNamespacedJob({ namespace: config.cicdNamespace, body, dryRun: "All" });
  } catch (error) {
    throw kubeError(error, `a dry run of the build Job for ${sha.slice(0, 12)} in ${config.cicdNamespace}`);
  }
  return `the build Job for ${sha.slice(0, 12)} (image ${config.kanikoImage}) passes admission`;
}
