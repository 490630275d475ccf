import { z } from "zod";
import type { SettingKey } from "./settings.ts";

/** A GitHub App's credentials: an installation token is minted from them on every run. */
export interface GitHubAppCredentials {
  readonly appId: number;
  readonly privateKey: string;
}

/** The optional receivers of transitions; each is off unless configured. */
export interface ReportingConfig {
  readonly githubDeployments: boolean;
  /** GitHub environment name; DEPLOY_NS/RELEASE unless set. */
  readonly githubEnvironment: string;
  readonly githubEnvironmentUrl: string | undefined;
  readonly kubeEvents: boolean;
  readonly webhook: { readonly url: string; readonly format: "json" | "slack" } | undefined;
  readonly pushgatewayUrl: string | undefined;
}

const bool = z.enum(["true", "false"]).transform((v) => v === "true");
const httpUrl = z.url({ protocol: /^https?$/ });

export const REPORTING_SCHEMAS = {
  githubAppId: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1)),
  // A key pasted into an environment variable sometimes arrives with literal "\n" for newlines.
  githubAppPrivateKey: z.string().transform((k) => k.replace(/\\n/g, "\n").trim())
    .refine((k) => /^-----BEGIN (RSA )?PRIVATE KEY-----\n[\s\S]+\n-----END (RSA )?PRIVATE KEY-----$/.test(k), "must be the PEM private key the GitHub App's settings page generates"),
  githubDeployments: bool,
  githubEnvironment: z.string().min(1).max(255).refine((e) => !/[\x00-\x1f]/.test(e), "must be one line"),
  githubEnvironmentUrl: httpUrl,
  kubeEvents: bool,
  webhookUrl: httpUrl,
  webhookFormat: z.enum(["json", "slack"]),
  pushgatewayUrl: httpUrl.refine((u) => !new URL(u).username && !new URL(u).password, "must not carry credentials").transform((u) => u.replace(/\/+$/, "")),
} satisfies Partial<Record<SettingKey, z.ZodType>>;

type Values = ReadonlyMap<SettingKey, unknown>;

/** Problems between reporting settings: a half-configured App, two credentials, deployments without one. */
export function reportingProblems(values: Values, requirement: "sync" | "status" | "receive"): string[] {
  const problems: string[] = [];
  const app = values.has("githubAppId") || values.has("githubAppPrivateKey");
  if (app && !(values.has("githubAppId") && values.has("githubAppPrivateKey")) && requirement === "sync") {
    problems.push("GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY go together: set both (the App's id and its private key, from a Secret) or neither");
  }
  if (app && values.has("gitToken")) {
    problems.push("GIT_TOKEN and GITHUB_APP_ID are both set: use one credential, the App (a fresh installation token every run) or the token");
  }
  if (values.get("githubDeployments") === true && !app && !values.has("gitToken")) {
    problems.push("GITHUB_DEPLOYMENTS=true needs a credential that may write deployments: GIT_TOKEN (Deployments and Commit statuses: write) or a GitHub App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY)");
  }
  return problems;
}

export function assembleReporting(values: Values, deployNamespace: string, release: string): { githubApp: GitHubAppCredentials | undefined; reporting: ReportingConfig } {
  const get = <T>(key: SettingKey) => values.get(key) as T;
  const appId = get<number | undefined>("githubAppId");
  const privateKey = get<string | undefined>("githubAppPrivateKey");
  const webhookUrl = get<string | undefined>("webhookUrl");
  return {
    githubApp: appId !== undefined && privateKey !== undefined ? { appId, privateKey } : undefined,
    reporting: {
      githubDeployments: get<boolean | undefined>("githubDeployments") ?? false,
      githubEnvironment: get<string | undefined>("githubEnvironment") ?? `${deployNamespace}/${release}`,
      githubEnvironmentUrl: get("githubEnvironmentUrl"),
      kubeEvents: get<boolean | undefined>("kubeEvents") ?? false,
      webhook: webhookUrl === undefined ? undefined : { url: webhookUrl, format: get<"json" | "slack" | undefined>("webhookFormat") ?? "json" },
      pushgatewayUrl: get("pushgatewayUrl"),
    },
  };
}
