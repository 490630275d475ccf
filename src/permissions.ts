import type { Config } from "./config/load.ts";

/**
 * Every permission ci-runner needs, with the step that needs it. `ci-runner doctor` asks the API
 * server about each (SelfSubjectAccessReview); manifests/base grants exactly these, and the
 * real-cluster tests check both agree.
 */
export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** undefined: cluster-scoped. */
  readonly namespace?: string;
  readonly name?: string;
  readonly why: string;
  /** The manifest that grants it. */
  readonly grantedBy: string;
  /**
   * Needed by a best-effort step (a receiver, the rollback evidence): without it that step warns
   * naming the permission, and the pass goes on. A failed helm upgrade is never blamed on it.
   */
  readonly bestEffort?: true;
}

export function requiredPermissions(config: Pick<Config, "cicdNamespace" | "deployNamespace" | "stateConfigMap" | "registrySecret" | "githubApp"> & { readonly reporting: Pick<Config["reporting"], "kubeEvents"> }): Permission[] {
  const build = (verb: string, group: string, resource: string, why: string, extra: Partial<Permission> = {}): Permission =>
    ({ verb, group, resource, namespace: config.cicdNamespace, why, grantedBy: "manifests/base/rbac-build.yaml", ...extra });
  const deploy = (verbs: string[], group: string, resource: string, why: string): Permission[] =>
    verbs.map((verb) => ({ verb, group, resource, namespace: config.deployNamespace, why, grantedBy: "manifests/base/rbac-deploy.yaml" }));
  const all = ["get", "list", "watch", "create", "update", "patch", "delete"];
  return [
    ...["get", "list", "watch", "create", "delete"].map((verb) => build(verb, "batch", "jobs", "build Jobs")),
    build("get", "", "pods", "read the build pod's digest"),
    build("list", "", "pods", "find the build pod"),
    build("get", "", "pods", "relay the build log", { subresource: "log" }),
    build("create", "", "configmaps", "create the state ConfigMap on the first run"),
    build("get", "", "configmaps", "read the state", { name: config.stateConfigMap }),
    build("patch", "", "configmaps", "write the state (compare-and-swap)", { name: config.stateConfigMap }),
    ...(config.registrySecret ? [build("get", "", "secrets", "check the registry for IMAGE:<sha>", { name: config.registrySecret })] : []),
    ...(config.reporting.kubeEvents ? [build("create", "", "events", "record transitions as Events (KUBE_EVENTS)", { bestEffort: true })] : []),
    // A GitHub App's installation token reaches the build pod through a Secret per build Job,
    // owned by the Job (the garbage collector deletes it with the Job).
    ...(config.githubApp ? [
      build("create", "", "secrets", "hand the build pod the App's installation token (GITHUB_APP_ID)"),
      build("patch", "", "secrets", "make the build Job own its token Secret (GITHUB_APP_ID)"),
    ] : []),
    ...deploy(all, "", "secrets", "Helm's release records"),
    ...deploy(all, "apps", "deployments", "the chart's Deployments"),
    ...deploy(all, "", "services", "the chart's Services"),
    ...deploy(all, "", "configmaps", "the chart's ConfigMaps"),
    ...deploy(all, "", "serviceaccounts", "the chart's ServiceAccounts"),
    ...deploy(["get", "list", "watch"], "apps", "replicasets", "helm --wait"),
    ...deploy(["list"], "", "pods", "end a deploy early when the new pods crash-loop").map(bestEffort),
    ...deploy(["list"], "", "events", "rollback evidence: the failing pods' Events").map(bestEffort),
    { ...deploy(["get"], "", "pods", "rollback evidence: the failing pods' last log lines")[0]!, subresource: "log", bestEffort: true },
    { verb: "create", group: "", resource: "namespaces", why: "helm --create-namespace", grantedBy: "manifests/base/rbac-namespaces.yaml" },
    { verb: "get", group: "", resource: "namespaces", name: config.deployNamespace, why: "helm --create-namespace", grantedBy: "manifests/base/rbac-namespaces.yaml" },
    { verb: "patch", group: "", resource: "namespaces", name: config.deployNamespace, why: "helm 4 applies the namespace server-side", grantedBy: "manifests/base/rbac-namespaces.yaml" },
  ];
}

function bestEffort(p: Permission): Permission {
  return { ...p, bestEffort: true };
}

export function describePermission(p: Permission): string {
  const what = `${p.resource}${p.subresource ? `/${p.subresource}` : ""}${p.group ? `.${p.group}` : ""}${p.name ? ` "${p.name}"` : ""}`;
  return `${p.verb} ${what}${p.namespace ? ` in namespace ${p.namespace}` : " (cluster-wide)"}`;
}
