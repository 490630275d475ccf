import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationV1Api, AuthorizationV1Api, BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import { checkBuildAdmitted } from "../adapters/build/admission.ts";
import { buildRecipe } from "../adapters/build/job.ts";
import { KanikoBuilds } from "../adapters/build/kaniko.ts";
import { checkBuildNamespace } from "../adapters/build/namespace.ts";
import { TokenSecrets } from "../adapters/build/token-secrets.ts";
import { GitChartSource } from "../adapters/chart/source.ts";
import { unsafeEntry } from "../adapters/chart/tree.ts";
import { gatherEvidence } from "../adapters/deploy/evidence.ts";
import { type HelmOptions, HelmReleases } from "../adapters/deploy/helm.ts";
import { deployNamespaceProblem } from "../adapters/deploy/namespace.ts";
import { watchRollout } from "../adapters/deploy/rollout-watch.ts";
import { createExec } from "../adapters/exec.ts";
import type { GitHubCredentials } from "../adapters/github/octokit.ts";
import { kubeRequestMs } from "../adapters/http/timeouts.ts";
import { missingPermissions } from "../adapters/kube/access-review.ts";
import { apiClient, kubeConfig } from "../adapters/kube/client.ts";
import { ApiServerIdentity, type Identity } from "../adapters/kube/identity.ts";
import { ClusterObjects } from "../adapters/kube/objects.ts";
import type { Rendered } from "../adapters/deploy/chart-policy.ts";
import { resolveChartKinds } from "../install/kinds.ts";
import type { InstallCluster } from "../install/ports.ts";
import { inClusterKubeconfig, type KubeTarget } from "../adapters/kube/kubeconfig.ts";
import { RegistryV2 } from "../adapters/registry/registry.ts";
import { allReporters } from "../adapters/report/fan-out.ts";
import { configuredReceivers } from "../adapters/report/receivers.ts";
import type { Config } from "../config/load.ts";
import type { Logger, Secrets } from "../log.ts";
import { ConfigError } from "../errors.ts";
import { INSTALL_MANAGER } from "../names.ts";
import { deployIdentity, deployPermissions, describePermission, requiredPermissions } from "../permissions.ts";
import type { BuildRunner, ChartSource, ImageRegistry, ReleaseManager, Reporter } from "../reconcile/ports.ts";
import { childEnv, type Env } from "./child-env.ts";
import type { Preflight } from "./runtime.ts";

export interface ClusterDeps {
  readonly config: Config;
  readonly env: Env;
  readonly log: Logger;
  readonly secrets: Secrets;
  readonly github: GitHubCredentials;
  readonly target: KubeTarget;
  /** Who reports, as the lease names the holder: pod and process. */
  readonly holder: string;
}

/** The adapters that need the Kubernetes client, made when a tick first has work (factory.ts). */
export interface Cluster {
  readonly core: CoreV1Api;
  readonly builds: BuildRunner;
  readonly registry: ImageRegistry;
  readonly charts: ChartSource;
  readonly releases: ReleaseManager;
  readonly reporter: Reporter;
  readonly preflight: Preflight;
  readonly identity: Identity;
  readonly install: InstallCluster;
}

/** Helm for this target, from the settings (the tests' plan builds the same). */
export function helmReleases(config: Config, deps: Pick<HelmOptions, "exec" | "log"> & Partial<HelmOptions>): HelmReleases {
  return new HelmReleases({
    bin: config.helmBin, release: config.release, namespace: config.deployNamespace, image: config.image,
    imageRepositoryKey: config.imageRepositoryKey, imageTagKey: config.imageTagKey, timeoutSeconds: config.helmTimeoutSeconds, wait: config.helmWait, memoryLimitBytes: config.helmMemoryLimitBytes, serviceTypes: config.serviceTypes,
    // What is left of the lease when the fence trips is a quarter of it; stop well within that.
    fencedGraceMs: Math.max(1_000, config.leaseSeconds * 250 - 2_000),
    kubeconfig: config.kubeconfig, context: config.context, actAs: deployIdentity(config),
    ...deps,
  });
}

/** Builds the cluster's adapters for one process. Nothing here talks to the network yet. */
export function createCluster(deps: ClusterDeps): Cluster {
  const { config, env, log, secrets, github } = deps;
  const kc = kubeConfig(deps.target);
  const deadline = kubeRequestMs(config.leaseSeconds);
  const core = apiClient(kc, CoreV1Api, deadline);
  const batch = apiClient(kc, BatchV1Api, deadline);
  const authorization = apiClient(kc, AuthorizationV1Api, deadline);
  // The deploy identity's view: what helm may do, asked on its behalf.
  const actAs = deployIdentity(config);
  const asDeploy = { authorization: apiClient(kc, AuthorizationV1Api, deadline, actAs), core: apiClient(kc, CoreV1Api, deadline, actAs) };
  const exec = createExec(childEnv(env), secrets);
  const clusterProblems = async () => deployProblems(config, authorization, asDeploy);
  // What of the rendered chart the deploy identity may not manage: asked before helm applies it.
  const objects = new ClusterObjects(kc, deadline, INSTALL_MANAGER);
  const chartRights = async (rendered: readonly Rendered[]): Promise<string[]> => {
    const { resources, problems } = await resolveChartKinds((v, k) => objects.served(v, k), rendered, config.deployNamespace);
    if (problems.length > 0) return [...problems];
    const missing = await missingPermissions(asDeploy.authorization, deployPermissions(config, resources));
    return missing.map((p) => `${actAs} cannot ${describePermission(p)}`);
  };
  // In a pod, helm gets the ServiceAccount as a kubeconfig file: with --kube-as-user it would not
  // find the in-cluster configuration by itself.
  const helmKubeconfig = config.kubeconfig === undefined && deps.target.inCluster ? inClusterKubeconfig(deps.target, tmpdir()) : config.kubeconfig;
  const releases = helmReleases(config, {
    exec, log, clusterProblems, chartRights, kubeconfig: helmKubeconfig,
    checkTree: (chartDir) => unsafeEntry({ root: chartDir, path: chartDir, boundary: chartDir }),
    watchRollout: (image, stop) => watchRollout(core, config.deployNamespace, image, log, stop),
    // The app's own log lines travel on to the state, GitHub and the webhook: scrubbed like ours.
    gatherEvidence: async (image) => {
      const evidence = await gatherEvidence(core, config.deployNamespace, image, log);
      return evidence && {
        summary: secrets.scrub(evidence.summary),
        pods: evidence.pods.map((pod) => ({ ...pod, logTail: pod.logTail.map((line) => secrets.scrub(line)) })),
      };
    },
  });
  const charts = new GitChartSource({ gitUrl: config.gitUrl, chartPath: config.chartPath, valuesFiles: config.valuesFiles, auth: github, exec });
  // The chart at one commit, rendered with VALUES_FILES as the deploy would: for doctor and install.
  const renderAt = async (sha: string): Promise<Rendered[]> => {
    const checkout = await charts.checkout(sha);
    try {
      return await releases.render({ chartDir: checkout.chartDir, sha, valuesFiles: config.valuesFiles.map((f) => join(checkout.root, f)) });
    } finally {
      await checkout.dispose();
    }
  };
  const registry = new RegistryV2({ image: config.image, insecure: config.registryInsecure, namespace: config.cicdNamespace, secretName: config.registrySecret, core, secrets, log, recipe: buildRecipe(config) });
  // With a GitHub App, each build Job gets the installation token in a Secret it owns.
  const tokenSecrets = config.githubApp === undefined ? undefined : new TokenSecrets({ core, batch, namespace: config.cicdNamespace, release: config.release, auth: github, log });
  return {
    core,
    builds: new KanikoBuilds({ kc, batch, core, log, config, tokenSecrets }),
    registry,
    charts,
    releases,
    reporter: allReporters(configuredReceivers({ config, core, log, secrets, github, instance: deps.holder }), log),
    preflight: {
      deployIdentity: async () => {
        const problems = await clusterProblems();
        if (problems.length > 0) throw new ConfigError(problems.join("; "), "apply manifests/base/rbac-deploy.yaml for this DEPLOY_NS (or create the namespace), then run doctor again");
        return `helm acts as ${actAs}, which may keep Helm's release records in ${config.deployNamespace}`;
      },
      chart: async (sha) => {
        const rendered = await renderAt(sha);
        const problems = await chartRights(rendered);
        if (problems.length > 0) throw new ConfigError(problems.join("; "), "run the same `ci-runner install` again: it grants the deploy identity what the chart at the head renders");
        const kinds = [...new Set(rendered.map((o) => String(o.kind)))].sort();
        return `${config.chartPath} at ${sha.slice(0, 12)} renders ${rendered.length} object(s) (${kinds.join(", ") || "none"}), all of which ${actAs} may manage`;
      },
      helm: () => releases.describe(),
      registrySecret: () => registry.checkSecret(),
      buildNamespace: () => checkBuildNamespace(core, config.cicdNamespace, config.stateConfigMap),
      buildAdmitted: (sha) => checkBuildAdmitted(batch, config, sha),
      missingPermissions: (permissions) => missingPermissions(authorization, permissions),
    },
    identity: new ApiServerIdentity(apiClient(kc, AuthenticationV1Api, deadline), kc),
    install: {
      apply: (object, dryRun) => objects.apply(object, dryRun),
      read: (object) => objects.read(object),
      list: (apiVersion, kind, selector) => objects.list(apiVersion, kind, selector),
      remove: (object) => objects.remove(object),
      chart: async (sha) => {
        const rendered = await renderAt(sha);
        return { ...await resolveChartKinds((v, k) => objects.served(v, k), rendered, config.deployNamespace), rendered: rendered.length };
      },
      registrySecret: () => registry.checkSecret(),
    },
  };
}

/**
 * What keeps helm from deploying that is not the commit's fault, in the order a person fixes it:
 * we may not act as the deploy identity, DEPLOY_NS is missing, the identity lacks a right helm needs.
 */
async function deployProblems(config: Config, runner: AuthorizationV1Api, asDeploy: { authorization: AuthorizationV1Api; core: CoreV1Api }): Promise<string[]> {
  const impersonate = requiredPermissions(config).filter((p) => p.verb === "impersonate");
  const cannot = await missingPermissions(runner, impersonate);
  if (cannot.length > 0) return cannot.map((p) => `ci-runner cannot ${describePermission(p)}`);
  const namespace = await deployNamespaceProblem(asDeploy.core, config.deployNamespace);
  if (namespace !== undefined) return [namespace];
  // The chart's own kinds are checked before each deploy (chartRights); these are helm's own.
  const missing = await missingPermissions(asDeploy.authorization, deployPermissions(config, []));
  return missing.map((p) => `${deployIdentity(config)} cannot ${describePermission(p)}`);
}
