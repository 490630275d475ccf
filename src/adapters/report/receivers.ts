import type { CoreV1Api } from "@kubernetes/client-node";
import type { Config } from "../../config/load.ts";
import type { Logger, Secrets } from "../../log.ts";
import { githubClient, type GitHubToken } from "../github/octokit.ts";
import { GitHubDeployments } from "./github-deployments.ts";
import { KubeEvents } from "./kube-events.ts";
import { Pushgateway } from "./pushgateway.ts";
import type { NamedReporter } from "./fan-out.ts";
import { Webhook } from "./webhook.ts";

export interface ReceiverDeps {
  readonly config: Config;
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly secrets: Secrets;
  readonly github: GitHubToken;
  /** Who reports, as the lease names the holder: pod and process. */
  readonly instance: string;
}

/** The receivers the settings turn on; none unless configured. */
export function configuredReceivers(deps: ReceiverDeps): NamedReporter[] {
  const { config, core, log, secrets } = deps;
  const { reporting } = config;
  const receivers: NamedReporter[] = [];
  if (reporting.githubDeployments) {
    receivers.push(new GitHubDeployments({
      octokit: githubClient({ baseUrl: config.githubApiUrl, auth: deps.github, log, retries: 1, maxRateLimitWaitSeconds: 10 }),
      owner: config.repo.owner, repo: config.repo.name, release: config.release,
      environment: reporting.githubEnvironment, environmentUrl: reporting.githubEnvironmentUrl, log,
    }));
  }
  if (reporting.kubeEvents) {
    receivers.push(new KubeEvents({ core, namespace: config.cicdNamespace, configMap: config.stateConfigMap, instance: deps.instance }));
  }
  if (reporting.webhook) {
    // The URL is the receiver's key (Slack's path is): scrubbed from every log line like a token.
    secrets.add(reporting.webhook.url);
    const url = new URL(reporting.webhook.url);
    if (`${url.pathname}${url.search}`.length >= 16) secrets.add(`${url.pathname}${url.search}`);
    receivers.push(new Webhook({
      url: reporting.webhook.url, format: reporting.webhook.format,
      repository: `${config.repo.owner}/${config.repo.name}`, release: config.release, namespace: config.deployNamespace,
    }));
  }
  if (reporting.pushgatewayUrl) {
    receivers.push(new Pushgateway({ url: reporting.pushgatewayUrl, namespace: config.deployNamespace, release: config.release }));
  }
  return receivers;
}
