import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { GitHubSource } from "./adapters/github.ts";
import { githubCredentials, tokenBound } from "./adapters/github-credentials.ts";
import { GitHubGates } from "./adapters/github-gates.ts";
import type { Identity } from "./adapters/identity.ts";
import { readStateLite, staticAccess } from "./adapters/kube-lite.ts";
import type { Config } from "./config.ts";
import type { Logger, Secrets } from "./log.ts";
import { buildJobName } from "./names.ts";
import type { Permission } from "./permissions.ts";
import type { PassContext } from "./reconcile/pass.ts";
import type { Ports } from "./reconcile/ports.ts";
import type { FullRuntime } from "./runtime-full.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Variables a child process (helm, git) may see. Everything else, GIT_TOKEN first, stays with us.
 * The CA settings let git trust a private CA (GIT_SSL_CAINFO/CAPATH) like helm does (SSL_CERT_*).
 */
const CHILD_ENV = /^(PATH|HOME|TMPDIR|LANG|LC_[A-Z]+|HELM_[A-Z_]+|XDG_[A-Z_]+|KUBERNETES_SERVICE_(HOST|PORT)|(HTTPS?|NO)_PROXY|(https?|no)_proxy|SSL_CERT_(FILE|DIR)|GIT_SSL_CA(INFO|PATH))$/;

export function childEnv(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && CHILD_ENV.test(e[0])));
}

/** What `doctor` asks besides the ports. */
export interface Preflight {
  helm(): Promise<string>;
  registrySecret(): Promise<string>;
  buildNamespace(): Promise<string>;
  buildAdmitted(sha: string): Promise<string>;
  missingPermissions(permissions: readonly Permission[]): Promise<Permission[]>;
}

export interface Runtime {
  readonly ports: Ports;
  readonly pass: PassContext;
  readonly preflight: Preflight;
  /** Who runs this command, as the API server sees it (recorded with an approval). */
  readonly identity: Identity;
}

/**
 * The adapters for one process. An idle tick needs only the state read and GitHub, so the
 * Kubernetes client, Kaniko, Helm and registry adapters (runtime-full.ts) load on first use: the
 * bundle keeps them behind a dynamic import that esbuild evaluates lazily.
 */
export function createRuntime(config: Config, env: Env, log: Logger, secrets: Secrets): Runtime {
  // GIT_TOKEN, or a GitHub App's installation token minted on first use in this run.
  const github = githubCredentials(config, secrets, log);
  const bound = <T extends object>(make: (token: string | undefined) => T): T => (config.githubApp ? tokenBound(github, make) : make(config.gitToken));
  const source = bound((token) => new GitHubSource({ baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, branch: config.branch, token, log }));
  // Asked only for a head that needs work and only by a configured gate: never on the idle tick,
  // which therefore does not even build its client (made on the first question).
  const gates = tokenBound(config.githubApp ? github : { token: async () => config.gitToken },
    (token) => new GitHubGates({ baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, token, log }));
  let loaded: Promise<FullRuntime> | undefined;
  const full = () => (loaded ??= import("./runtime-full.ts").then((m) => m.createFullRuntime(config, env, log, secrets, source, gates, github)));
  const access = staticAccess({
    kubeconfig: config.kubeconfig, context: config.context, inCluster: env.KUBERNETES_SERVICE_HOST !== undefined,
    defaultKubeconfig: join(env.HOME ?? homedir(), ".kube", "config"),
    serviceHost: env.KUBERNETES_SERVICE_HOST, servicePort: env.KUBERNETES_SERVICE_PORT,
  });
  if (access?.token) secrets.add(access.token);
  const ports: Ports = {
    source,
    gates,
    state: {
      read: async () => (access && (await readStateLite(access, config.cicdNamespace, config.stateConfigMap))) || (await full()).ports.state.read(),
      write: async (next, rv) => (await full()).ports.state.write(next, rv),
    },
    builds: {
      jobName: (sha, attempt) => buildJobName(config.release, sha, attempt),
      find: async (sha, attempt) => (await full()).ports.builds.find(sha, attempt),
      start: async (request) => (await full()).ports.builds.start(request),
      wait: async (name, fence) => (await full()).ports.builds.wait(name, fence),
      remove: async (name) => (await full()).ports.builds.remove(name),
      inFlight: async () => (await full()).ports.builds.inFlight(),
    },
    registry: { digestOf: async (tag) => (await full()).ports.registry.digestOf(tag) },
    charts: {
      checkout: async (sha) => (await full()).ports.charts.checkout(sha),
      prefetch: (sha) => void full().then((r) => r.ports.charts.prefetch(sha), () => undefined),
    },
    releases: {
      observe: async () => (await full()).ports.releases.observe(),
      repair: async (release, fence) => (await full()).ports.releases.repair(release, fence),
      deploy: async (request, fence) => (await full()).ports.releases.deploy(request, fence),
      deployArgv: async (request) => (await full()).ports.releases.deployArgv(request),
    },
    reporter: { report: async (transition) => (await full()).ports.reporter.report(transition) },
    clock: { now: () => new Date() },
  };
  const holder = `${env.HOSTNAME ?? hostname()}/${process.pid}`;
  return {
    ports,
    preflight: {
      helm: async () => (await full()).preflight.helm(),
      registrySecret: async () => (await full()).preflight.registrySecret(),
      buildNamespace: async () => (await full()).preflight.buildNamespace(),
      buildAdmitted: async (sha) => (await full()).preflight.buildAdmitted(sha),
      missingPermissions: async (permissions) => (await full()).preflight.missingPermissions(permissions),
    },
    identity: { whoAmI: async () => (await full()).identity.whoAmI() },
    pass: { ports, log, holder, maxRetries: config.maxRetries, leaseSeconds: config.leaseSeconds, helmTimeoutSeconds: config.helmTimeoutSeconds, valuesFiles: config.valuesFiles, policy: config.gates },
  };
}
