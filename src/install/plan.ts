import type { KubeObject } from "../adapters/kube/object.ts";
import type { Config } from "../config/load.ts";
import { INSTALL_MANAGER, LABELS } from "../names.ts";
import { type ChartResource, deployPermissions, type Permission, requiredPermissions } from "../permissions.ts";
import { rulesFor } from "./rbac.ts";
import { SETTINGS } from "../config/settings.ts";
import { baseManifest } from "./templates.ts";

/** What one runner's installation is made of, as given to `ci-runner install`. */
export interface InstallSettings {
  readonly config: Config;
  /** The settings given to install, for the CronJob's environment (never a secret's value). */
  readonly env: readonly { readonly name: string; readonly value: string }[];
  /** What the runner reads from Secrets, by reference only. */
  readonly secretEnv: readonly { readonly name: string; readonly secret: string; readonly key: string }[];
  readonly runnerImage: string;
  readonly schedule: string;
  /** Secret in CICD_NS with key `secret`: set, install adds `ci-runner receive` with it. */
  readonly receiverSecret?: string | undefined;
}

export interface BuildPolicyParams {
  readonly kanikoImages: readonly string[];
  readonly registrySecrets: readonly string[];
  readonly gitTokenSecrets: readonly string[];
}

/** What install read before deciding: the chart's kinds and what the cluster already holds. */
export interface InstallObservation {
  readonly chart: readonly ChartResource[];
  /** The build policy's params now: other runners' images and Secrets stay listed. */
  readonly params: BuildPolicyParams;
  /** Namespaces that exist, and whether install created them (only those may go with the release). */
  readonly namespaces: ReadonlyMap<string, { readonly createdByInstall: boolean }>;
}

/** On the shared objects (the admission policies, their params, the build namespace). */
export const SHARED = "shared";
/** On a namespace install created, which `uninstall --delete-release` may therefore delete. */
export const CREATED = "ci-runner.dev/created-by-install";
export const BUILD_POLICY_PARAMS = "ci-runner-build-policy";

/** The receiver's ServiceAccount: receiver-policy.yaml knows a receiver by this prefix. */
export function receiverAccount(release: string): string {
  return `ci-receiver-${release}`;
}

/** The runner's ServiceAccount in CICD_NS: the admission policies know a runner by this name. */
export function runnerAccount(release: string): string {
  return `ci-runner-${release}`;
}

/**
 * Every object of one runner's installation, and the shared ones it needs, in the order they are
 * applied: namespaces, identities, their rights, the policies' params, the policies, the CronJob.
 * Pure: the same settings and observation give the same objects.
 */
export function desiredObjects(s: InstallSettings, o: InstallObservation): KubeObject[] {
  const { config } = s;
  const release = config.release;
  const cicd = config.cicdNamespace;
  const deployNs = config.deployNamespace;
  const runner = runnerAccount(release);
  const own = labels(release);
  const meta = (name: string, namespace: string | undefined, extra: Record<string, string> = own) =>
    ({ name, ...(namespace ? { namespace } : {}), labels: extra });

  const [buildNs, appNs] = baseManifest("namespaces.yaml", cicd);
  const namespace = (template: KubeObject | undefined, name: string, owner: string): KubeObject => {
    const created = o.namespaces.get(name)?.createdByInstall ?? !o.namespaces.has(name);
    return {
      apiVersion: "v1", kind: "Namespace",
      metadata: { name, labels: { ...template?.metadata.labels, ...labels(owner) }, ...(created ? { annotations: { [CREATED]: "true" } } : {}) },
    };
  };
  const role = (name: string, ns: string, permissions: readonly Permission[]): KubeObject =>
    ({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(name, ns), rules: rulesFor(permissions) });
  const binding = (name: string, ns: string, subject: { name: string; namespace: string }): KubeObject => ({
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: meta(name, ns),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", ...subject }],
  });

  const needs = requiredPermissions(config);
  const deployAccount = { name: config.deployServiceAccount, namespace: deployNs };
  // A namespace someone else made keeps its own labels (Pod Security among them): never applied.
  const ours = (name: string) => !o.namespaces.has(name) || o.namespaces.get(name)?.createdByInstall === true;
  return [
    ...(ours(cicd) ? [namespace(buildNs, cicd, SHARED)] : []),
    ...(ours(deployNs) && deployNs !== cicd ? [namespace(appNs, deployNs, release)] : []),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(runner, cicd) },
    role(runner, cicd, needs.filter((p) => p.namespace === cicd)),
    binding(runner, cicd, { name: runner, namespace: cicd }),
    role(runner, deployNs, needs.filter((p) => p.namespace === deployNs)),
    binding(runner, deployNs, { name: runner, namespace: cicd }),
    // The identity helm acts as: impersonated, never run, so it gets no token.
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(deployAccount.name, deployNs), automountServiceAccountToken: false },
    role(deployAccount.name, deployNs, deployPermissions(config, o.chart)),
    binding(deployAccount.name, deployNs, deployAccount),
    buildPolicyParams(cicd, o.params, config),
    ...policies(cicd),
    cronJob(s, runner),
    ...(s.receiverSecret === undefined ? [] : receiver(s, runner)),
  ];
}

/**
 * `ci-runner receive` for this release (manifests/base/receiver.yaml, renamed): its identity, the
 * right to start ticks of this CronJob, the Deployment and Service, and the policy's binding that
 * pins its Jobs to the CronJob's pod. After the CronJob, which the binding takes as its param.
 */
function receiver(s: InstallSettings, runner: string): KubeObject[] {
  const { config } = s;
  const cicd = config.cicdNamespace;
  const name = receiverAccount(config.release);
  const own = labels(config.release);
  // The template as data: its fields are set by path, as a kustomize patch would.
  type Doc = KubeObject & Record<string, any>;
  const docs = baseManifest("receiver.yaml", cicd) as Doc[];
  const find = (kind: string, objectName = name) => {
    const doc = docs.find((d) => d.kind === kind);
    if (doc === undefined) throw new Error(`manifests/base/receiver.yaml holds no ${kind}`);
    return { ...doc, metadata: { ...doc.metadata, name: objectName, ...(doc.metadata.namespace ? { namespace: cicd } : {}), labels: { ...doc.metadata.labels, ...own } } } as Doc;
  };
  const instance = { "app.kubernetes.io/name": "ci-runner-receiver", "app.kubernetes.io/instance": config.release };
  const role = find("Role");
  role.rules = [{ apiGroups: ["batch"], resources: ["cronjobs"], resourceNames: [runner], verbs: ["get"] }, { apiGroups: ["batch"], resources: ["jobs"], verbs: ["list", "create"] }];
  const binding = find("RoleBinding");
  binding.roleRef = { ...binding.roleRef, name };
  binding.subjects = [{ kind: "ServiceAccount", name, namespace: cicd }];
  const deployment = structuredClone(find("Deployment"));
  deployment.spec.selector.matchLabels = instance;
  deployment.spec.template.metadata.labels = instance;
  deployment.spec.template.spec.serviceAccountName = name;
  const [container] = deployment.spec.template.spec.containers;
  container.image = s.runnerImage;
  container.env = [
    { name: "REPO", value: `${config.repo.owner}/${config.repo.name}` },
    { name: "BRANCH", value: config.branch },
    { name: "RELEASE", value: config.release },
    { name: "CICD_NS", value: cicd },
    { name: "GITHUB_WEBHOOK_SECRET", valueFrom: { secretKeyRef: { name: s.receiverSecret, key: "secret" } } },
    // --runner-env (a proxy, a CA bundle, where the API server is): the receiver's pod needs it too.
    ...s.env.filter((e) => !SETTINGS.some((setting) => setting.env === e.name)),
  ];
  const service = find("Service");
  service.spec = { ...service.spec, selector: instance };
  const policyBinding = find("ValidatingAdmissionPolicyBinding", `ci-runner-receiver-${config.release}`);
  policyBinding.spec = { ...policyBinding.spec, paramRef: { name: runner, namespace: cicd, parameterNotFoundAction: "Deny" } };
  return [find("ServiceAccount"), role, binding, deployment, service, policyBinding];
}

/** The union of what every runner's builds may use: a second runner adds its own, never removes another's. */
function buildPolicyParams(cicd: string, now: BuildPolicyParams, config: Config): KubeObject {
  const union = (a: readonly string[], b: string | undefined) => [...new Set([...a, ...(b ? [b] : [])])].join(",");
  return {
    apiVersion: "v1", kind: "ConfigMap",
    metadata: { name: BUILD_POLICY_PARAMS, namespace: cicd, labels: labels(SHARED) },
    data: {
      kanikoImages: union(now.kanikoImages, config.kanikoImage),
      registrySecrets: union(now.registrySecrets, config.registrySecret),
      gitTokenSecrets: union(now.gitTokenSecrets, config.gitTokenSecret),
    },
  };
}

/** The five admission policies and their bindings, as manifests/base has them. */
function policies(cicd: string): KubeObject[] {
  const files = ["build-policy.yaml", "build-secrets-policy.yaml", "state-policy.yaml", "deploy-policy.yaml", "receiver-policy.yaml"] as const;
  return files.flatMap((file) => baseManifest(file, cicd))
    .filter((doc) => doc.kind !== "ConfigMap")
    .map((doc) => ({ ...doc, metadata: { ...doc.metadata, labels: { ...doc.metadata.labels, ...labels(SHARED) } } }));
}

function cronJob(s: InstallSettings, runner: string): KubeObject {
  const [template] = baseManifest("cronjob.yaml", s.config.cicdNamespace);
  if (template === undefined) throw new Error("manifests/base/cronjob.yaml holds no CronJob");
  type Container = { name: string; image: string; env?: unknown[]; resources?: { limits?: Record<string, string> } };
  type PodSpec = { serviceAccountName: string; terminationGracePeriodSeconds?: number; containers: Container[] };
  const job = structuredClone(template) as KubeObject & { spec: { schedule: string; jobTemplate: { spec: { activeDeadlineSeconds?: number; template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } } } } };
  const pod = job.spec.jobTemplate.spec.template;
  const [container] = pod.spec.containers;
  if (container === undefined) throw new Error("manifests/base/cronjob.yaml has no container");
  job.spec.schedule = s.schedule;
  // The base's margins, for these settings: a tick may build, then deploy and roll back (twice
  // HELM_TIMEOUT); SIGTERM lets a running helm finish; helm's own memory limit fits in the pod's.
  const { buildTimeoutSeconds: build, helmTimeoutSeconds: helm, helmMemoryLimitBytes: helmMemory } = s.config;
  job.spec.jobTemplate.spec.activeDeadlineSeconds = Math.max(job.spec.jobTemplate.spec.activeDeadlineSeconds ?? 0, build + 2 * helm + 300);
  pod.spec.terminationGracePeriodSeconds = Math.max(pod.spec.terminationGracePeriodSeconds ?? 0, 2 * helm + 100);
  const limits = container.resources?.limits;
  if (limits?.memory !== undefined) {
    const mi = Math.ceil(helmMemory / 1024 / 1024) + 224;
    if (mi > parseInt(limits.memory, 10)) limits.memory = `${mi}Mi`;
  }
  pod.spec.serviceAccountName = runner;
  container.image = s.runnerImage;
  container.env = [
    ...s.env.map((e) => ({ name: e.name, value: e.value })),
    ...s.secretEnv.map((e) => ({ name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key } } })),
  ];
  return { ...job, metadata: { name: runner, namespace: s.config.cicdNamespace, labels: { ...template.metadata.labels, ...labels(s.config.release) } } };
}

export function labels(installation: string): Record<string, string> {
  return { [LABELS.managedBy]: INSTALL_MANAGER, [LABELS.installation]: installation };
}
