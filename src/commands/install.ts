import { stringify } from "yaml";
import { describe, type KubeObject } from "../adapters/kube/object.ts";
import type { Config } from "../config/load.ts";
import { SETTINGS, type Setting } from "../config/settings.ts";
import { AttemptFailure, ConfigError, EXIT_CODES, type ExitCode, RunnerError } from "../errors.ts";
import { type Change, change, renderChanges } from "../install/diff.ts";
import { runnerEnvironment, type SecretRefs } from "../install/environment.ts";
import { BUILD_POLICY_PARAMS, type BuildPolicyParams, CREATED, desiredObjects, type InstallObservation, receiverAccount, runnerAccount, SHARED } from "../install/plan.ts";
import type { InstallCluster, ObjectStore } from "../install/ports.ts";
import { INSTALL_MANAGER, LABELS } from "../names.ts";
import type { Runtime } from "../wiring/runtime.ts";

export interface InstallOptions {
  readonly runnerImage: string | undefined;
  readonly schedule: string;
  readonly refs: SecretRefs;
  /** Print what would change; write nothing. */
  readonly dryRun: boolean;
  /** Print the objects as YAML; write nothing. */
  readonly yaml: boolean;
  /** NAME=VALUE pairs for the runner's pod that are no setting of ours (a proxy, a CA bundle). */
  readonly runnerEnv: readonly string[];
  /** The settings as given (flags and environment), for the CronJob's environment. */
  readonly explicit: readonly { setting: Setting; raw: string }[];
}

/** The kinds install makes per release, which a later install with other settings may remove. */
const PRUNABLE = [
  { apiVersion: "v1", kind: "ServiceAccount" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  { apiVersion: "batch/v1", kind: "CronJob" },
  // `ci-runner receive`, with --receiver-secret: removed first, so no tick starts while the rest goes.
  { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "apps/v1", kind: "Deployment" },
] as const;

/** The deploy identity's name the admission policies know (manifests/base/deploy-policy.yaml). */
const DEPLOY_ACCOUNT = "ci-runner-deploy";

/** On the shared objects: the build namespace whose runners they admit. One per cluster. */
const BUILD_NAMESPACE = "ci-runner.dev/build-namespace";

/**
 * `ci-runner install`: observe (the chart at the branch head, the Secrets it references, what is
 * installed now), decide (desiredObjects, pure), check every object with a server-side dry run, and
 * only then apply them in order and remove what this release no longer needs. Any problem found
 * before the first write is one ConfigError: nothing is changed.
 */
export async function runInstall(config: Config, runtime: Runtime, options: InstallOptions, out: (text: string) => void): Promise<ExitCode> {
  const env = runnerEnvironment(options.explicit, config, options.refs);
  const problems = [...env.problems];
  if (!options.runnerImage) problems.push("--runner-image is required: the ci-runner image the CronJob runs (build it from this repository's Dockerfile and push it where the cluster pulls from)");
  const extra = extraEnvironment(options.runnerEnv);
  problems.push(...extra.problems);
  if (!isSchedule(options.schedule)) problems.push(`--schedule "${options.schedule}" is not a cron schedule: give five fields, e.g. "*/2 * * * *"`);
  if (problems.length > 0) throw refused(problems);

  const cluster = runtime.install;
  const observation = await observe(config, runtime, cluster, options.refs);
  if (observation.problems.length > 0) throw refused(observation.problems);

  const settings = { config, env: [...env.env, ...extra.env], secretEnv: env.secretEnv, runnerImage: options.runnerImage ?? "", schedule: options.schedule, receiverSecret: options.refs.receiverSecret };
  const desired = desiredObjects(settings, observation).map((o) => annotateShared(o, config.cicdNamespace));
  if (options.yaml) {
    out(desired.map((o) => stringify(o, { lineWidth: 0 })).join("---\n"));
    return EXIT_CODES.ok;
  }
  const stale = observation.owned.filter((o) => !desired.some((d) => same(d, o)));

  // Every object is admitted before any is written: RBAC escalation, admission, schema.
  const changes: Change[] = [];
  const refusals: string[] = [];
  for (const object of desired) {
    const ns = object.metadata.namespace;
    if (ns !== undefined && !observation.namespaces.has(ns)) {
      changes.push({ kind: "create", object });
      continue;
    }
    try {
      const found = change(await cluster.read(object), await cluster.apply(object, true));
      if (found) changes.push(found);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      refusals.push(error.message);
    }
  }
  if (refusals.length > 0) throw refused(refusals, "install applies RBAC for the runner and the deploy identity: run it as a cluster admin (it may grant only what it holds)");
  changes.push(...stale.map((object) => ({ kind: "delete" as const, object })));

  if (options.dryRun) {
    out(renderChanges(changes));
    return EXIT_CODES.ok;
  }
  const changed = new Set(changes.map((c) => describe(c.object)));
  for (const object of desired) {
    if (changed.has(describe(object))) await cluster.apply(object);
  }
  for (const object of stale) await cluster.remove(object);
  out(renderChanges(changes));
  out(`Installed ${config.release}: CronJob ${config.cicdNamespace}/${runnerAccount(config.release)} runs "${options.schedule}", building ${config.image} and deploying ${config.chartPath} into ${config.deployNamespace}.\n` +
    (options.refs.receiverSecret === undefined ? "" : `Receiver: Deployment and Service ${config.cicdNamespace}/${receiverAccount(config.release)} take GitHub push webhooks on path /webhook: expose the Service (an Ingress or a tunnel) and add the webhook with the secret from ${options.refs.receiverSecret}.\n`) +
    `Check it: ci-runner doctor --release ${config.release} ... (the same settings); watch it: ci-runner status --release ${config.release}\n`);
  return EXIT_CODES.ok;
}

async function observe(config: Config, runtime: Runtime, cluster: InstallCluster, refs: SecretRefs): Promise<InstallObservation & { owned: KubeObject[]; problems: string[] }> {
  const problems: string[] = [];
  const cicd = config.cicdNamespace;
  const objects = cluster;
  const head = (await runtime.ports.source.branchHead(undefined)).sha;
  let chart: Awaited<ReturnType<InstallCluster["chart"]>>;
  try {
    chart = await cluster.chart(head);
  } catch (error) {
    // A chart missing or not rendering at the head is the input's fault here, not a later tick's.
    if (!(error instanceof AttemptFailure)) throw error;
    throw refused([`the chart at ${head.slice(0, 12)}: ${error.message}`], "fix the chart (CHART_PATH, VALUES_FILES, its templates) and push it, then run the same install again: nothing was changed");
  }
  problems.push(...chart.problems.map((p) => `the chart at ${head.slice(0, 12)}: ${p}`));

  const namespaces = new Map<string, { createdByInstall: boolean }>();
  for (const name of new Set([cicd, config.deployNamespace])) {
    const found = await objects.read({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    if (found) namespaces.set(name, { createdByInstall: found.metadata.annotations?.[CREATED] === "true" });
  }
  // The Secrets are the one thing install never makes: their values must not pass through it.
  const secrets: { name: string | undefined; what: string; create: string; key?: string }[] = [
    { name: config.registrySecret, what: "REGISTRY_SECRET", create: `kubectl -n ${cicd} create secret docker-registry ${config.registrySecret} --docker-server=... --docker-username=... --docker-password=...` },
    { name: config.gitTokenSecret, what: "GIT_TOKEN_SECRET", create: `kubectl -n ${cicd} create secret generic ${config.gitTokenSecret} --from-literal=token=<token>`, key: "token" },
    { name: refs.githubAppKeySecret, what: "--github-app-key-secret", create: `kubectl -n ${cicd} create secret generic ${refs.githubAppKeySecret} --from-file=private-key=<key.pem>`, key: "private-key" },
    { name: refs.webhookUrlSecret, what: "--webhook-url-secret", create: `kubectl -n ${cicd} create secret generic ${refs.webhookUrlSecret} --from-literal=url=<url>`, key: "url" },
    { name: refs.receiverSecret, what: "--receiver-secret", create: `kubectl -n ${cicd} create secret generic ${refs.receiverSecret} --from-literal=secret="$(openssl rand -hex 32)"`, key: "secret" },
  ];
  for (const s of secrets) {
    if (s.name === undefined) continue;
    const exists = namespaces.has(cicd);
    const secret = exists ? await objects.read({ apiVersion: "v1", kind: "Secret", metadata: { name: s.name, namespace: cicd } }) : undefined;
    if (!secret) problems.push(`${s.what}: Secret ${cicd}/${s.name} does not exist; create it first: ${s.create}`);
    else if (s.key !== undefined && !(s.key in ((secret.data ?? {}) as Record<string, unknown>))) {
      problems.push(`${s.what}: Secret ${cicd}/${s.name} has no key ${s.key}; recreate it: ${s.create}`);
    } else if (s.what === "REGISTRY_SECRET") {
      try { await cluster.registrySecret(); } catch (error) { if (error instanceof RunnerError) problems.push(`${error.message}; ${error.remedy}`); else throw error; }
    }
  }
  const policy = await objects.read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: "ci-runner-build-jobs" } });
  // Installed by install (annotated) or by manifests/ (its CEL names the runners' namespace).
  const policyNs = policy?.metadata.annotations?.[BUILD_NAMESPACE];
  const foreign = policyNs !== undefined ? policyNs !== cicd : policy !== undefined && !JSON.stringify(policy.spec).includes(`system:serviceaccount:${cicd}:`);
  if (foreign) {
    problems.push(`CICD_NS=${cicd}, but this cluster's ci-runner admission policies admit the runners of build namespace ${policyNs ?? "another namespace"}: one build namespace per cluster; set CICD_NS to that one`);
  }
  // The admission policies know helm's identity by this one name (manifests/base/deploy-policy.yaml).
  if (config.deployServiceAccount !== DEPLOY_ACCOUNT) {
    problems.push(`DEPLOY_SERVICE_ACCOUNT=${config.deployServiceAccount}: the admission policies hold helm's identity to its rules as ${DEPLOY_ACCOUNT} only; leave DEPLOY_SERVICE_ACCOUNT unset for install`);
  }
  // One release per deploy namespace: its deploy identity's Role is cut to that release's chart.
  const deployRole = await objects.read({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: DEPLOY_ACCOUNT, namespace: config.deployNamespace } });
  const holder = deployRole?.metadata.labels?.[LABELS.installation];
  if (holder !== undefined && holder !== config.release) {
    problems.push(`DEPLOY_NS=${config.deployNamespace} already holds release ${holder}'s deploy identity: one release per deploy namespace; set DEPLOY_NS to a namespace of its own`);
  }
  const params = await objects.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: BUILD_POLICY_PARAMS, namespace: cicd } });
  const selector = `${LABELS.managedBy}=${INSTALL_MANAGER},${LABELS.installation}=${config.release}`;
  const owned = (await Promise.all(PRUNABLE.map((k) => objects.list(k.apiVersion, k.kind, selector)))).flat();
  return { chart: chart.resources, params: currentParams(params), namespaces, owned, problems };
}

function currentParams(found: KubeObject | undefined): BuildPolicyParams {
  const data = (found?.data ?? {}) as Record<string, string | undefined>;
  const list = (key: string) => (data[key] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return { kanikoImages: list("kanikoImages"), registrySecrets: list("registrySecrets"), gitTokenSecrets: list("gitTokenSecrets") };
}

function annotateShared(object: KubeObject, cicd: string): KubeObject {
  if (object.metadata.labels?.[LABELS.installation] !== SHARED || object.kind === "Namespace") return object;
  return { ...object, metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, [BUILD_NAMESPACE]: cicd } } };
}

function same(a: KubeObject, b: KubeObject): boolean {
  return a.kind === b.kind && a.metadata.name === b.metadata.name && (a.metadata.namespace ?? "") === (b.metadata.namespace ?? "");
}

function refused(problems: readonly string[], remedy = "fix each problem named, then run the same install again: nothing was changed"): ConfigError {
  return new ConfigError(`install refused: ${problems.join("; ")}`, remedy, problems);
}

/**
 * --runner-env: what the runner's pod needs that is not one of our settings. A setting goes by its
 * own flag (so that it is validated), and a value here is in the pod spec for anyone to read.
 */
export function extraEnvironment(pairs: readonly string[]): { env: { name: string; value: string }[]; problems: string[] } {
  const env: { name: string; value: string }[] = [];
  const problems: string[] = [];
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    const name = at > 0 ? pair.slice(0, at) : "";
    const setting = SETTINGS.find((s) => s.env === name);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) problems.push(`--runner-env "${pair}" is not NAME=VALUE: give e.g. --runner-env HTTPS_PROXY=http://proxy:3128`);
    else if (setting) problems.push(`--runner-env ${name}: ${name} is a setting; give it as ${setting.secret ? "a Secret (see --help)" : setting.flag ?? `the environment variable ${name}`} instead, so that install checks it`);
    else env.push({ name, value: pair.slice(at + 1) });
  }
  return { env, problems };
}

/** Five cron fields or one of the @-macros Kubernetes accepts. */
export function isSchedule(text: string): boolean {
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(text)) return true;
  const fields = text.trim().split(/\s+/);
  return fields.length === 5 && fields.every((f) => /^[0-9A-Za-z*?/,-]+$/.test(f));
}

export interface UninstallOptions {
  /** Also delete DEPLOY_NS, with the app in it, if install created it. */
  readonly deleteRelease: boolean;
}

/**
 * `ci-runner uninstall`: delete what install made for this release, its state and its build Jobs;
 * the shared policies go with the last release in the build namespace. The app keeps running unless
 * --delete-release, and a namespace install did not create is never deleted.
 */
export async function runUninstall(config: Config, objects: ObjectStore, options: UninstallOptions, out: (text: string) => void): Promise<ExitCode> {
  const cicd = config.cicdNamespace;
  const mine = `${LABELS.managedBy}=${INSTALL_MANAGER},${LABELS.installation}=${config.release}`;
  const removed: string[] = [];
  const remove = async (object: KubeObject) => { await objects.remove(object); removed.push(describe(object)); };
  // The CronJob first, so that no tick starts while the rest goes.
  for (const kind of [...PRUNABLE].reverse()) for (const object of await objects.list(kind.apiVersion, kind.kind, mine)) await remove(object);
  for (const job of await objects.list("batch/v1", "Job", `${LABELS.managedBy}=ci-runner,${LABELS.target}=${config.release}`)) {
    if (job.metadata.namespace === cicd) await remove(job);
  }
  // Ticks the receiver started: their CronJob's garbage collection would take them, but later.
  for (const job of await objects.list("batch/v1", "Job", `${LABELS.trigger}=push,${LABELS.cronJob}=${runnerAccount(config.release)}`)) {
    if (job.metadata.namespace === cicd) await remove(job);
  }
  const state = await objects.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: config.stateConfigMap, namespace: cicd } });
  if (state) await remove(state);

  // Another runner in the build namespace, by install or by manifests/, still needs the policies.
  const others = (await objects.list("v1", "ServiceAccount", ""))
    .filter((sa) => sa.metadata.namespace === cicd && sa.metadata.name.startsWith("ci-runner-") && sa.metadata.name !== runnerAccount(config.release));
  if (others.length === 0) {
    const shared = `${LABELS.managedBy}=${INSTALL_MANAGER},${LABELS.installation}=${SHARED}`;
    for (const kind of [["admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"], ["admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"], ["v1", "ConfigMap"]] as const) {
      for (const object of await objects.list(kind[0], kind[1], shared)) await remove(object);
    }
  }
  if (options.deleteRelease) {
    const ns = await objects.read({ apiVersion: "v1", kind: "Namespace", metadata: { name: config.deployNamespace } });
    if (ns?.metadata.annotations?.[CREATED] === "true" && ns.metadata.labels?.[LABELS.installation] === config.release) await remove(ns);
    else if (ns) out(`Kept namespace ${config.deployNamespace}: install did not create it; delete the release with helm uninstall -n ${config.deployNamespace} ${config.release}\n`);
  }
  out(removed.length === 0 ? `Nothing of ${config.release} is installed.\n` : removed.map((r) => `- deleted ${r}\n`).join(""));
  if (others.length > 0) out(`Kept the shared admission policies: ${others.length} other runner(s) in ${cicd} use them.\n`);
  return EXIT_CODES.ok;
}
