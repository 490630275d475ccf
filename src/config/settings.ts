import TABLE from "./settings.json" with { type: "json" };

/**
 * The one table of settings: environment variable, flag, default and the form expected.
 * config/load.ts validates it, cli.ts turns it into flags, and the README table is checked against it.
 */

export interface Setting {
  readonly key: SettingKey;
  readonly env: string;
  /** Absent for secrets: a token never travels in argv. */
  readonly flag?: string;
  readonly fallback?: string;
  readonly secret?: boolean;
  /** What form is expected, shown in errors and in --help. */
  readonly form: string;
}

export type SettingKey =
  | "repo" | "branch" | "image" | "chartPath" | "release" | "cicdNamespace" | "deployNamespace" | "deployServiceAccount"
  | "interval" | "maxRetries" | "gitToken" | "gitTokenSecret" | "registrySecret" | "registryInsecure"
  | "githubApiUrl" | "gitUrl" | "kanikoImage" | "dockerfile" | "buildContext"
  | "buildArgs" | "snapshotMode" | "buildCache" | "pushRetry"
  | "buildCpuRequest" | "buildMemoryRequest" | "buildCpuLimit" | "buildMemoryLimit" | "buildStorageRequest" | "buildStorageLimit"
  | "imageRepositoryKey" | "imageTagKey" | "valuesFiles" | "helmTimeout" | "helmWait" | "helmMemoryLimit" | "serviceTypes" | "verify" | "buildTimeout"
  | "stateConfigMap" | "leaseDuration" | "kubeconfig" | "context" | "helmBin" | "logFormat" | "logLevel"
  | "githubAppId" | "githubAppPrivateKey" | "githubDeployments" | "githubEnvironment" | "githubEnvironmentUrl"
  | "kubeEvents" | "webhookUrl" | "githubWebhookSecret" | "webhookFormat" | "pushgatewayUrl"
  | "skipMarkers" | "skipAuthors" | "buildPaths" | "requiredChecks" | "requireApproval" | "freezeWindows";

/**
 * The rows live in settings.json, one setting a line: data, read by the bundle as an object (no
 * parsing at run time). Their keys are checked against SettingKey by test/unit/settings.test.ts;
 * config/load.ts cannot compile without a schema for every SettingKey.
 */
export const SETTINGS = TABLE as readonly Setting[];

/** commander's camel-cased option name for a flag, e.g. --cicd-ns -> cicdNs. */
export function optionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
