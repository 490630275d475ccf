import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../adapters/kube/object.ts";

/** manifests/base's files, put into the bundle by scripts/build.mjs; read from the checkout otherwise. */
declare const CI_RUNNER_MANIFESTS: Record<string, string> | undefined;

/**
 * manifests/base is the reviewed, commented reference; `install` starts from its files rather than
 * a second copy of them: the CronJob's pod, the namespaces' Pod Security labels and the admission
 * policies are exactly those, renamed for the installation.
 */
export type BaseFile = "namespaces.yaml" | "cronjob.yaml" | "build-policy.yaml" | "build-secrets-policy.yaml" | "deploy-policy.yaml" | "state-policy.yaml" | "receiver.yaml" | "receiver-policy.yaml";

export function baseManifest(file: BaseFile, cicdNamespace = "cicd"): KubeObject[] {
  const text = typeof CI_RUNNER_MANIFESTS === "object" ? CI_RUNNER_MANIFESTS[file] : readFileSync(new URL(`../../manifests/base/${file}`, import.meta.url), "utf8");
  if (text === undefined) throw new Error(`the bundle holds no manifests/base/${file}`);
  // The policies name the build namespace in selectors, CEL and messages alike.
  const renamed = cicdNamespace === "cicd" ? text : text.replace(/\bcicd\b/g, cicdNamespace);
  return parseAllDocuments(renamed).map((doc) => doc.toJSON() as KubeObject).filter((o) => o !== null);
}
