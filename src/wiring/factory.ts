import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { githubCredentials } from "../adapters/github/credentials.ts";
import { GitHubGates } from "../adapters/github/gates.ts";
import { githubRepo } from "../adapters/github/octokit.ts";
import { GitHubSource } from "../adapters/github/source.ts";
import { kubeRequestMs } from "../adapters/http/timeouts.ts";
import { type KubeTarget, staticAccess } from "../adapters/kube/kubeconfig.ts";
import { ConfigMapStateStore } from "../adapters/state/store.ts";
import type { Config } from "../config/load.ts";
import type { Logger, Secrets } from "../log.ts";
import type { Ports } from "../reconcile/ports.ts";
import type { Env } from "./child-env.ts";
import { lazy, once } from "./lazy.ts";
import type { Runtime } from "./runtime.ts";
import type { TickStarter } from "../receive/server.ts";

/** What a pass reads of the settings besides its ports. */
export function passSettings(config: Config): Pick<Runtime, "rules" | "leaseSeconds" | "valuesFiles"> {
  return {
    rules: { maxRetries: config.maxRetries, helmTimeoutSeconds: config.helmTimeoutSeconds, policy: config.gates, verify: config.verify },
    leaseSeconds: config.leaseSeconds,
    valuesFiles: config.valuesFiles,
  };
}

/** Where this process finds its cluster: the kubeconfig and context given, or the pod's own. */
export function kubeTarget(config: Config, env: Env): KubeTarget {
  return {
    kubeconfig: config.kubeconfig, context: config.context, inCluster: env.KUBERNETES_SERVICE_HOST !== undefined,
    defaultKubeconfig: join(env.HOME ?? homedir(), ".kube", "config"),
    serviceHost: env.KUBERNETES_SERVICE_HOST, servicePort: env.KUBERNETES_SERVICE_PORT,
  };
}

/**
 * What `ci-runner receive` starts ticks with: one CronJob's Jobs, through the Kubernetes client
 * (behind a dynamic import, as for a tick). Made at start, so a bad kubeconfig stops it at once.
 */
export async function receiverTicks(config: Config, env: Env, cronJob: string): Promise<TickStarter> {
  return (await import("./receiver.ts")).cronJobTicks(kubeTarget(config, env), config.cicdNamespace, cronJob);
}

/**
 * The one place a process's adapters are made (gh's `cmdutil.Factory`): each port is built once,
 * on its first use. An idle tick reads the state and asks GitHub for the head; so the Kubernetes
 * client, Kaniko, Helm, the registry and the receivers (cluster.ts) load only when a tick has work:
 * the bundle keeps them behind a dynamic import that esbuild evaluates lazily. Nothing here talks
 * to the network yet.
 */
export function createRuntime(config: Config, env: Env, log: Logger, secrets: Secrets): Runtime {
  const github = githubCredentials(config, secrets, log);
  const holder = `${env.HOSTNAME ?? hostname()}/${process.pid}`;
  const target = kubeTarget(config, env);
  const access = staticAccess(target);
  if (access?.token) secrets.add(access.token);
  const cluster = once(() => import("./cluster.ts").then((m) => m.createCluster({ config, env, log, secrets, github, target, holder })));
  // One client for the branch head and the gates: the idle tick builds it for its one request.
  const repo = githubRepo({ baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, auth: github, log });
  const ports: Ports = {
    source: new GitHubSource(repo, config.branch),
    // Asked only for a head that needs work and only by a configured gate: never on the idle tick.
    gates: new GitHubGates(repo),
    state: new ConfigMapStateStore({
      namespace: config.cicdNamespace, name: config.stateConfigMap, release: config.release,
      access, core: async () => (await cluster()).core, deadlineMs: kubeRequestMs(config.leaseSeconds),
    }),
    builds: lazy(async () => (await cluster()).builds),
    registry: lazy(async () => (await cluster()).registry),
    charts: lazy(async () => (await cluster()).charts),
    releases: lazy(async () => (await cluster()).releases),
    reporter: lazy(async () => (await cluster()).reporter),
    clock: { now: () => new Date() },
  };
  return {
    ports,
    log,
    holder,
    ...passSettings(config),
    preflight: lazy(async () => (await cluster()).preflight),
    identity: lazy(async () => (await cluster()).identity),
    install: lazy(async () => (await cluster()).install),
  };
}
