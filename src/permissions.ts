import type { Config } from "./config/load.ts";

/**
 * Every permission ci-runner needs, with the step that needs it, split by who needs it:
 *   - the runner itself (its ServiceAccount in CICD_NS): builds, state, and reading the deploy
 *     namespace's pods while helm waits; plus impersonating the deploy identity;
 *   - the deploy identity (DEPLOY_SERVICE_ACCOUNT in DEPLOY_NS), which helm acts as: the chart's
 *     own rights and Helm's release records, in DEPLOY_NS only. A chart renders and applies with
 *     these and nothing of the runner's, so a template's `lookup` sees only what the app could.
 * `ci-runner doctor` asks the API server about each (SelfSubjectAccessReview, the deploy identity's
 * by impersonation); manifests/base grants exactly these, and the real-cluster tests check both agree.
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

type PermissionConfig = Pick<Config, "cicdNamespace" | "deployNamespace" | "deployServiceAccount" | "stateConfigMap" | "registrySecret" | "githubApp"> & {
  readonly reporting: Pick<Config["reporting"], "kubeEvents">;
};

const ALL = ["get", "list", "watch", "create", "update", "patch", "delete"];

/** The user helm acts as: the deploy identity's ServiceAccount, as the API server names it. */
export function deployIdentity(config: Pick<Config, "deployNamespace" | "deployServiceAccount">): string {
  return `system:serviceaccount:${config.deployNamespace}:${config.deployServiceAccount}`;
}

/** What the runner's own ServiceAccount needs. */
export function requiredPermissions(config: PermissionConfig): Permission[] {
  const build = (verb: string, group: string, resource: string, why: string, extra: Partial<Permission> = {}): Permission =>
    ({ verb, group, resource, namespace: config.cicdNamespace, why, grantedBy: "manifests/base/rbac-build.yaml", ...extra });
  const watch = (verb: string, resource: string, why: string, extra: Partial<Permission> = {}): Permission =>
    ({ verb, group: "", resource, namespace: config.deployNamespace, why, grantedBy: "manifests/base/rbac-deploy.yaml", bestEffort: true, ...extra });
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
    // helm acts as the deploy identity; without this every helm command is refused.
    { verb: "impersonate", group: "", resource: "serviceaccounts", namespace: config.deployNamespace, name: config.deployServiceAccount, why: "run helm as the deploy identity (DEPLOY_SERVICE_ACCOUNT)", grantedBy: "manifests/base/rbac-deploy.yaml" },
    watch("list", "pods", "end a deploy early when the new pods crash-loop"),
    watch("list", "events", "rollback evidence: the failing pods' Events"),
    watch("get", "pods", "rollback evidence: the failing pods' last log lines", { subresource: "log" }),
  ];
}

/** A kind the chart renders, as the API server serves it. */
export interface ChartResource {
  readonly group: string;
  readonly resource: string;
  readonly kind: string;
}

/**
 * The kinds of manifests/base's example chart (a `helm create` chart without its Ingress and
 * autoscaler): what rbac-deploy.yaml grants, and what `ci-runner install` grants for such a chart.
 */
export const EXAMPLE_CHART: readonly ChartResource[] = [
  { group: "apps", resource: "deployments", kind: "Deployment" },
  { group: "", resource: "services", kind: "Service" },
  { group: "", resource: "configmaps", kind: "ConfigMap" },
  { group: "", resource: "serviceaccounts", kind: "ServiceAccount" },
];

/**
 * What the deploy identity needs for helm in DEPLOY_NS: Helm's release records (Secrets), every
 * verb on each kind the chart renders (helm creates, patches, deletes and, to wait, watches them),
 * and for a Deployment the ReplicaSets Helm 3's --wait reads.
 */
export function deployPermissions(config: Pick<Config, "deployNamespace"> & { readonly verify?: Config["verify"] }, chart: readonly ChartResource[]): Permission[] {
  const deploy = (verbs: readonly string[], group: string, resource: string, why: string): Permission[] =>
    verbs.map((verb) => ({ verb, group, resource, namespace: config.deployNamespace, why, grantedBy: "manifests/base/rbac-deploy.yaml (ci-runner install derives it from the chart)" }));
  const seen = new Set(["/secrets"]);
  const kinds = chart.filter((k) => !seen.has(`${k.group}/${k.resource}`) && seen.add(`${k.group}/${k.resource}`));
  const deployments = chart.some((k) => k.group === "apps" && k.resource === "deployments");
  return [
    ...deploy(ALL, "", "secrets", "Helm's release records"),
    ...kinds.flatMap((k) => deploy(ALL, k.group, k.resource, `the chart's ${k.kind}s`)),
    ...(deployments && !seen.has("apps/replicasets") ? deploy(["get", "list", "watch"], "apps", "replicasets", "Helm 3's --wait reads a Deployment's ReplicaSets") : []),
    // The test hooks are the chart's own Pods (rendered, so among its kinds); their logs are not.
    ...(config.verify?.helmTest ? [{ ...deploy(["get"], "", "pods", "`helm test --logs` reads the test pods' logs (VERIFY=helm-test)")[0]!, subresource: "log" }] : []),
  ];
}

export function describePermission(p: Permission): string {
  const what = `${p.resource}${p.subresource ? `/${p.subresource}` : ""}${p.group ? `.${p.group}` : ""}${p.name ? ` "${p.name}"` : ""}`;
  return `${p.verb} ${what}${p.namespace ? ` in namespace ${p.namespace}` : " (cluster-wide)"}`;
}
