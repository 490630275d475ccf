import { type Configuration, createConfiguration, type KubeConfig, type RequestContext, type ResponseContext, ServerConfiguration } from "@kubernetes/client-node";

/**
 * API clients whose every request has a deadline. A stalled API server (connection accepted,
 * nothing sent) would otherwise hold a call forever, and with it the run and its lease.
 */
export function apiClient<T>(kc: KubeConfig, Api: new (configuration: Configuration) => T, deadlineMs: number): T {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("apiClient: kubeconfig has no current cluster");
  const deadline = {
    pre: async (request: RequestContext) => {
      request.setSignal(AbortSignal.timeout(deadlineMs));
      request.setHeaderParam("User-Agent", "ci-runner");
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

/** How long one API request may take: long enough for a loaded server, short against the lease. */
export function requestDeadlineMs(leaseSeconds: number): number {
  return Math.max(5_000, Math.min(15_000, (leaseSeconds * 1000) / 3));
}
