import { type Configuration, createConfiguration, KubeConfig, type RequestContext, type ResponseContext, ServerConfiguration } from "@kubernetes/client-node";
import { ConfigError } from "../../errors.ts";
import { type KubeTarget, mergedKubeconfig } from "./kubeconfig.ts";


/**
 * API clients whose every request has a deadline. A stalled API server (connection accepted,
 * nothing sent) would otherwise hold a call forever, and with it the run and its lease.
 * `impersonate` makes every request as that user (the deploy identity, for the questions doctor
 * and a failed helm ask on its behalf); the API server checks that we may.
 */
export function apiClient<T>(kc: KubeConfig, Api: new (configuration: Configuration) => T, deadlineMs: number, impersonate?: string): T {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("apiClient: kubeconfig has no current cluster");
  const deadline = {
    pre: async (request: RequestContext) => {
      request.setSignal(AbortSignal.timeout(deadlineMs));
      request.setHeaderParam("User-Agent", "ci-runner");
      if (impersonate !== undefined) request.setHeaderParam("Impersonate-User", impersonate);
      return request;
    },
    post: async (response: ResponseContext) => response,
  };
  return new Api(createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [deadline],
  }));
}

/** The Kubernetes client's view of the target: the merged files, or the pod's ServiceAccount. */
export function kubeConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  const file = target.kubeconfig ?? target.defaultKubeconfig;
  try {
    if (target.kubeconfig === undefined && target.inCluster) kc.loadFromCluster();
    else kc.loadFromString(JSON.stringify(mergedKubeconfig(file)));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`cannot read kubeconfig ${file}: ${(error as Error).message.split("\n")[0]}`, "pass --kubeconfig or set KUBECONFIG to a readable kubeconfig");
  }
  if (target.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === target.context)) {
      throw new ConfigError(`kubeconfig has no context "${target.context}"`, `pick one of: ${kc.getContexts().map((c) => c.name).join(", ") || "(none)"}`);
    }
    kc.setCurrentContext(target.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new ConfigError("kubeconfig has no current cluster", "set a current-context in the kubeconfig or pass --context");
  }
  return kc;
}

