import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { AuthenticationV1Api, AuthorizationV1Api, BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import { GitChartSource } from "./adapters/chart-source.ts";
import { checkBuildAdmitted } from "./adapters/build-admission.ts";
import { checkBuildNamespace } from "./adapters/build-namespace.ts";
import { TokenSecretBuilds } from "./adapters/build-token.ts";
import { DeployNotes } from "./adapters/deploy-notes.ts";
import { gatherEvidence } from "./adapters/evidence.ts";
import { createExec } from "./adapters/exec.ts";
import type { GitHubToken } from "./adapters/github-client.ts";
import { tokenBound } from "./adapters/github-credentials.ts";
import { HelmReleases } from "./adapters/helm.ts";
import { ApiServerIdentity, type Identity } from "./adapters/identity.ts";
import { KanikoBuilds } from "./adapters/kaniko.ts";
import { loadKubeConfig } from "./adapters/kube.ts";
import { apiClient, requestDeadlineMs } from "./adapters/kube-client.ts";
import { missingPermissions } from "./adapters/preflight.ts";
import { RegistryV2 } from "./adapters/registry.ts";
import { configuredReceivers } from "./adapters/receivers.ts";
import { allReporters } from "./adapters/reporters.ts";
import { watchRollout } from "./adapters/rollout-watch.ts";
import { ConfigMapStateStore } from "./adapters/state-store.ts";
import type { Config } from "./config.ts";
import type { Logger, Secrets } from "./log.ts";
import { describePermission, requiredPermissions } from "./permissions.ts";
import type { BuildRunner, ChartSource, GateSource, Ports, SourceHost } from "./reconcile/ports.ts";
import { childEnv, type Env, type Preflight } from "./runtime.ts";

/** The adapters that need the Kubernetes client, loaded only when a tick has work to do. */
export interface FullRuntime {
  readonly ports: Ports;
  readonly preflight: Preflight;
  readonly identity: Identity;
}

/** Builds the real adapters for one process. Nothing here talks to the network yet. */
export function createFullRuntime(config: Config, env: Env, log: Logger, secrets: Secrets, source: SourceHost, gates: GateSource, github: GitHubToken): FullRuntime {
  const kc = loadKubeConfig({
    kubeconfig: config.kubeconfig,
    context: config.context,
    inCluster: env.KUBERNETES_SERVICE_HOST !== undefined,
    defaultKubeconfig: join(env.HOME ?? homedir(), ".kube", "config"),
  });
  const deadline = requestDeadlineMs(config.leaseSeconds);
  const core = apiClient(kc, CoreV1Api, deadline);
  const batch = apiClient(kc, BatchV1Api, deadline);
  const exec = createExec(childEnv(env), secrets);
  const state = new ConfigMapStateStore(core, config.cicdNamespace, config.stateConfigMap, config.release);
  const authorization = apiClient(kc, AuthorizationV1Api, deadline);
  // A failed upgrade is blamed on a missing permission only when helm needs it, not the evidence's.
  const deployPermissions = requiredPermissions(config).filter((p) => p.namespace !== config.cicdNamespace && !p.bestEffort);
  const notes = new DeployNotes();
  const helm = new HelmReleases({
    bin: config.helmBin, release: config.release, namespace: config.deployNamespace, image: config.image,
    imageRepositoryKey: config.imageRepositoryKey, imageTagKey: config.imageTagKey, timeoutSeconds: config.helmTimeoutSeconds,
    // What is left of the lease when the fence trips is a quarter of it; stop well within that.
    fencedGraceMs: Math.max(1_000, config.leaseSeconds * 250 - 2_000),
    kubeconfig: config.kubeconfig, context: config.context, exec, log,
    missingPermissions: async () => (await missingPermissions(authorization, deployPermissions)).map(describePermission),
    watchRollout: (image, stop) => watchRollout(core, config.deployNamespace, image, log, stop),
    // The app's own log lines travel on to the state, GitHub and the webhook: scrubbed like ours.
    gatherEvidence: async (image) => {
      const evidence = await gatherEvidence(core, config.deployNamespace, image, log);
      return evidence && {
        summary: secrets.scrub(evidence.summary),
        pods: evidence.pods.map((pod) => ({ ...pod, logTail: pod.logTail.map((line) => secrets.scrub(line)) })),
      };
    },
    notes,
  });
  const registry = new RegistryV2({ image: config.image, insecure: config.registryInsecure, namespace: config.cicdNamespace, secretName: config.registrySecret, core, secrets, log });
  const ports: Ports = {
    source,
    gates,
    state,
    builds: buildRunner(config, { kc, batch, core, log }, github),
    registry,
    charts: chartSource(config, github, (token) => new GitChartSource({ gitUrl: config.gitUrl, chartPath: config.chartPath, valuesFiles: config.valuesFiles, token, exec })),
    releases: helm,
    reporter: allReporters(configuredReceivers({
      config, core, log, secrets, notes, github, instance: `${env.HOSTNAME ?? hostname()}/${process.pid}`,
    }), log),
    clock: { now: () => new Date() },
  };
  return {
    ports,
    preflight: {
      helm: () => helm.describe(),
      registrySecret: () => registry.checkSecret(),
      buildNamespace: () => checkBuildNamespace(core, config.cicdNamespace, config.stateConfigMap),
      buildAdmitted: (sha) => checkBuildAdmitted(batch, config, sha),
      missingPermissions: (permissions) => missingPermissions(authorization, permissions),
    },
    identity: new ApiServerIdentity(apiClient(kc, AuthenticationV1Api, deadline), kc),
  };
}

/** With a GitHub App, each build Job gets the installation token in a Secret it owns. */
function buildRunner(config: Config, deps: Omit<ConstructorParameters<typeof KanikoBuilds>[0], "config">, github: GitHubToken): BuildRunner {
  const builds = new KanikoBuilds({ ...deps, config });
  if (config.githubApp === undefined) return builds;
  return new TokenSecretBuilds({
    core: deps.core, batch: deps.batch, namespace: config.cicdNamespace, release: config.release, auth: github, log: deps.log, builds,
    withSecret: (secret, token) => new KanikoBuilds({ ...deps, config: { ...config, gitToken: token, gitTokenSecret: secret } }),
  });
}

/** With a GitHub App, the chart is fetched with the current installation token; a failed prefetch stays best effort. */
function chartSource(config: Config, github: GitHubToken, make: (token: string | undefined) => ChartSource): ChartSource {
  if (config.githubApp === undefined) return make(config.gitToken);
  const charts = tokenBound(github, make);
  return { checkout: (sha) => charts.checkout(sha), prefetch: (sha) => void Promise.resolve(charts.prefetch(sha)).catch(() => undefined) };
}
