import type { Config } from "../config/load.ts";
import type { Setting, SettingKey } from "../config/settings.ts";
import type { InstallSettings } from "./plan.ts";

/** Where the runner finds what it cannot be handed in plain text: Secret names given to install. */
export interface SecretRefs {
  /** Secret in CICD_NS with key `private-key`: the GitHub App's key. */
  readonly githubAppKeySecret?: string | undefined;
  /** Secret in CICD_NS with key `url`: WEBHOOK_URL. */
  readonly webhookUrlSecret?: string | undefined;
  /** Secret in CICD_NS with key `secret`: the GitHub webhook's secret; set, `ci-runner receive` is installed. */
  readonly receiverSecret?: string | undefined;
}

/** What only the laptop running install needs: the pod finds its cluster and its helm itself. */
const LOCAL_ONLY: ReadonlySet<SettingKey> = new Set(["kubeconfig", "context", "helmBin", "logFormat"]);

/**
 * The CronJob's environment: each setting given to install, as given, except the local ones; the
 * secrets by Secret reference only (a value in a pod spec is readable by anyone who reads the
 * CronJob). A secret given without a Secret to read it from is a problem, named with the fix.
 */
export function runnerEnvironment(explicit: readonly { setting: Setting; raw: string }[], config: Config, refs: SecretRefs): Pick<InstallSettings, "env" | "secretEnv"> & { problems: string[] } {
  const problems: string[] = [];
  const env = explicit.filter(({ setting }) => !setting.secret && !LOCAL_ONLY.has(setting.key)).map(({ setting, raw }) => ({ name: setting.env, value: raw }));
  const given = new Set(explicit.map(({ setting }) => setting.key));
  const secretEnv: InstallSettings["secretEnv"][number][] = [];
  // The token Secret is the build's too: with it the runner reads a private branch and its checks.
  if (config.gitTokenSecret) secretEnv.push({ name: "GIT_TOKEN", secret: config.gitTokenSecret, key: "token" });
  if (refs.githubAppKeySecret) secretEnv.push({ name: "GITHUB_APP_PRIVATE_KEY", secret: refs.githubAppKeySecret, key: "private-key" });
  else if (config.githubApp) {
    problems.push("GITHUB_APP_ID is set but --github-app-key-secret is not: the CronJob reads the App's key from a Secret; create one with `kubectl -n <CICD_NS> create secret generic github-app --from-file=private-key=<key.pem>` and pass --github-app-key-secret github-app");
  }
  if (refs.webhookUrlSecret) secretEnv.push({ name: "WEBHOOK_URL", secret: refs.webhookUrlSecret, key: "url" });
  else if (given.has("webhookUrl")) {
    problems.push("WEBHOOK_URL is set but --webhook-url-secret is not: the CronJob reads the URL from a Secret; create one with `kubectl -n <CICD_NS> create secret generic ci-runner-webhook --from-literal=url=<url>` and pass --webhook-url-secret ci-runner-webhook");
  }
  return { env, secretEnv, problems };
}
