import { hostname } from "node:os";
import { homedir } from "node:os";
import { join } from "node:path";
import { AuthorizationV1Api, BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import { GitChartSource } from "./adapters/chart-source.ts";
import { createExec } from "./adapters/exec.ts";
import { GitHubSource } from "./adapters/github.ts";
import { HelmReleases } from "./adapters/helm.ts";
import { KanikoBuilds } from "./adapters/kaniko.ts";
import { loadKubeConfig } from "./adapters/kube.ts";
import { missingPermissions } from "./adapters/preflight.ts";
import { RegistryV2 } from "./adapters/registry.ts";
import { ConfigMapStateStore } from "./adapters/state-store.ts";
import type { Config } from "./config.ts";
import { type Logger, Secrets } from "./log.ts";
import { describePermission, type Permission, requiredPermissions } from "./permissions.ts";
import type { PassContext } from "./reconcile/pass.ts";
import type { Ports } from "./reconcile/ports.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** Variables a child process (helm, git) may see. Everything else, GIT_TOKEN first, stays with us. */
const CHILD_ENV = /^(PATH|HOME|TMPDIR|LANG|LC_[A-Z]+|HELM_[A-Z_]+|XDG_[A-Z_]+|KUBERNETES_SERVICE_(HOST|PORT)|(HTTPS?|NO)_PROXY|(https?|no)_proxy|SSL_CERT_(FILE|DIR))$/;

export function childEnv(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && CHILD_ENV.test(e[0])));
}

/** What `doctor` asks besides the ports. */
export interface Preflight {
  helm(): Promise<string>;
  registrySecret(): Promise<string>;
  missingPermissions(permissions: readonly Permission[]): Promise<Permission[]>;
}

export interface Runtime {
  readonly ports: Ports;
  readonly pass: PassContext;
  readonly preflight?: Preflight;
}

/** Builds the real adapters for one process. Nothing here talks to the network yet. */
export function createRuntime(config: Config, env: Env, log: Logger, secrets: Secrets): Runtime {
  const kc = loadKubeConfig({
    kubeconfig: config.kubeconfig,
    context: config.context,
    inCluster: env.KUBERNETES_SERVICE_HOST !== undefined,
    defaultKubeconfig: join(env.HOME ?? homedir(), ".kube", "config"),
  });
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const exec = createExec(childEnv(env), secrets);
  const state = new ConfigMapStateStore(core, config.cicdNamespace, config.stateConfigMap, config.release);
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const deployPermissions = requiredPermissions(config).filter((p) => p.namespace !== config.cicdNamespace);
  const helm = new HelmReleases({
    bin: config.helmBin, release: config.release, namespace: config.deployNamespace, image: config.image,
    imageRepositoryKey: config.imageRepositoryKey, imageTagKey: config.imageTagKey, timeoutSeconds: config.helmTimeoutSeconds,
    kubeconfig: config.kubeconfig, context: config.context, exec, log,
    missingPermissions: async () => (await missingPermissions(authorization, deployPermissions)).map(describePermission),
  });
  const registry = new RegistryV2({ image: config.image, insecure: config.registryInsecure, namespace: config.cicdNamespace, secretName: config.registrySecret, core, secrets, log });
  const ports: Ports = {
    source: new GitHubSource({ baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, branch: config.branch, token: config.gitToken, log }),
    state,
    builds: new KanikoBuilds({ kc, batch, core, log, config }),
    registry,
    charts: new GitChartSource({ gitUrl: config.gitUrl, chartPath: config.chartPath, valuesFiles: config.valuesFiles, token: config.gitToken, exec }),
    releases: helm,
    clock: { now: () => new Date() },
  };
  const holder = `${env.HOSTNAME ?? hostname()}/${process.pid}`;
  return {
    ports,
    preflight: {
      helm: () => helm.describe(),
      registrySecret: () => registry.checkSecret(),
      missingPermissions: (permissions) => missingPermissions(authorization, permissions),
    },
    pass: { ports, log, holder, maxRetries: config.maxRetries, leaseSeconds: config.leaseSeconds, valuesFiles: config.valuesFiles },
  };
}
