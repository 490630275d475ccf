import { z } from "zod";
import { assembleReporting, type GitHubAppCredentials, REPORTING_SCHEMAS, type ReportingConfig, reportingProblems } from "./reporting.ts";
import { assembleGates, GATE_SCHEMAS } from "./gates.ts";
import { ConfigError } from "../errors.ts";
import type { GatePolicy, VerifyPolicy } from "../reconcile/types.ts";
import { SETTINGS, optionName, type Setting, type SettingKey } from "./settings.ts";

export interface Config {
  readonly repo: { readonly owner: string; readonly name: string };
  readonly branch: string;
  readonly image: string;
  readonly chartPath: string;
  readonly release: string;
  readonly cicdNamespace: string;
  readonly deployNamespace: string;
  /** The ServiceAccount in DEPLOY_NS that helm impersonates: the chart acts with its rights only. */
  readonly deployServiceAccount: string;
  readonly intervalSeconds: number;
  readonly maxRetries: number;
  readonly gitToken: string | undefined;
  /** What `ci-runner receive` checks each webhook delivery's signature with. */
  readonly githubWebhookSecret: string | undefined;
  readonly gitTokenSecret: string | undefined;
  readonly registrySecret: string | undefined;
  readonly registryInsecure: boolean;
  readonly githubApiUrl: string;
  readonly gitUrl: string;
  readonly kanikoImage: string;
  readonly dockerfile: string;
  readonly buildContext: string;
  /** Build arguments as given: values may hold {sha} and {branch}, replaced per build. */
  readonly buildArgs: readonly { readonly name: string; readonly value: string }[];
  readonly snapshotMode: "full" | "redo" | "time";
  readonly buildCache: boolean;
  readonly pushRetry: number;
  readonly buildResources: {
    readonly requests: { readonly cpu?: string; readonly memory?: string; readonly "ephemeral-storage"?: string };
    readonly limits: { readonly cpu?: string; readonly memory?: string; readonly "ephemeral-storage"?: string };
  };
  readonly imageRepositoryKey: string;
  readonly imageTagKey: string;
  readonly valuesFiles: readonly string[];
  readonly helmTimeoutSeconds: number;
  /** Helm 4's wait strategy (`--wait=<strategy>`). */
  readonly helmWait: "watcher" | "legacy";
  /** The data limit of every helm process, in bytes. */
  readonly helmMemoryLimitBytes: number;
  /** Service types a chart may create. */
  readonly serviceTypes: readonly string[];
  /** What a deployed commit must pass before it counts as verified (VERIFY). */
  readonly verify: VerifyPolicy;
  readonly buildTimeoutSeconds: number;
  readonly stateConfigMap: string;
  readonly leaseSeconds: number;
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  readonly helmBin: string;
  readonly logFormat: "json" | "pretty" | "auto";
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** Set: each run mints an installation token for REPO (gitToken is then undefined). */
  readonly githubApp: GitHubAppCredentials | undefined;
  readonly reporting: ReportingConfig;
  /** What a new head must pass before it is built and deployed. */
  readonly gates: GatePolicy;
  /** Settings this command does not need that were invalid, and so are left unused. */
  readonly warnings: readonly string[];
}

/** Which settings a command cannot run without. `status` needs fewer than `sync`. */
export type Requirement = "sync" | "status" | "receive";

export const REQUIRED: Record<Requirement, readonly SettingKey[]> = {
  sync: ["repo", "image", "chartPath", "release"],
  status: ["release"],
  receive: ["repo", "release", "githubWebhookSecret"],
};

/**
 * Settings a command can do without: when invalid they are dropped with a warning instead of
 * stopping it. `status` and `retry` never need the token (status reads a private branch head with
 * it when it is valid), so a malformed GIT_TOKEN must not keep anyone from looking at the state.
 */
const OPTIONAL_FOR: Record<Requirement, readonly SettingKey[]> = {
  sync: [],
  status: ["gitToken", "githubAppId", "githubAppPrivateKey"],
  receive: ["gitToken", "githubAppId", "githubAppPrivateKey"],
};

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const relativePath = z.string().refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must stay inside the repository");
const duration = z.string().regex(/^\d+(s|m|h)?$/).transform(toSeconds);
const valuesKey = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/);
const cpu = z.string().regex(/^\d+(\.\d+)?m?$/);
const memory = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/);
const buildArg = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=[^,]*$/, "each must be NAME=VALUE");

const SCHEMAS: Record<SettingKey, z.ZodType> = {
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
  branch: z.string().regex(/^(?!\/|.*\.\.|.*\/\/)[A-Za-z0-9._\/-]+$/).max(200),
  image: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/),
  chartPath: relativePath,
  release: z.string().max(53).regex(dnsLabel),
  cicdNamespace: z.string().max(63).regex(dnsLabel),
  deployNamespace: z.string().max(63).regex(dnsLabel),
  deployServiceAccount: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
  interval: duration.pipe(z.number().min(5)),
  maxRetries: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(100)),
  gitToken: z.string().min(1).refine((t) => !/\s/.test(t), "must not contain white space"),
  githubWebhookSecret: z.string().min(16, "must be at least 16 characters"),
  gitTokenSecret: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
  registrySecret: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
  registryInsecure: z.enum(["true", "false"]).transform((v) => v === "true"),
  githubApiUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
  gitUrl: z.url({ protocol: /^https?$/ }).refine((u) => !new URL(u).username && !new URL(u).password, "must not carry credentials: use GIT_TOKEN"),
  kanikoImage: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$/),
  dockerfile: relativePath,
  buildContext: relativePath,
  buildArgs: z.string().transform((s) => s.split(",").map((a) => a.trim()).filter(Boolean)).pipe(z.array(buildArg))
    .transform((args) => args.map((a) => ({ name: a.slice(0, a.indexOf("=")), value: a.slice(a.indexOf("=") + 1) }))),
  snapshotMode: z.enum(["full", "redo", "time"]),
  buildCache: z.enum(["true", "false"]).transform((v) => v === "true"),
  pushRetry: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(0).max(10)),
  buildCpuRequest: cpu,
  buildMemoryRequest: memory,
  buildCpuLimit: cpu,
  buildMemoryLimit: memory,
  buildStorageRequest: memory,
  buildStorageLimit: memory,
  imageRepositoryKey: valuesKey,
  imageTagKey: valuesKey,
  valuesFiles: z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean)).pipe(z.array(relativePath)),
  helmTimeout: duration.pipe(z.number().min(10)),
  helmWait: z.enum(["watcher", "legacy"]),
  serviceTypes: z.string().transform((s) => s.split(",").map((t) => t.trim()).filter(Boolean)).pipe(z.array(z.enum(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])).min(1)),
  verify: z.string().transform((s) => s.split(",").map((t) => t.trim()).filter(Boolean)).pipe(z.array(z.enum(["helm-test"], "each must be helm-test"))),
  helmMemoryLimit: memory.transform(toBytes).pipe(z.number().min(64 * 1024 * 1024, "at least 64Mi: helm itself needs about 50 MB")),
  buildTimeout: duration.pipe(z.number().min(30)),
  stateConfigMap: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
  leaseDuration: duration.pipe(z.number().min(6).max(3600)),
  kubeconfig: z.string().min(1),
  context: z.string().min(1),
  helmBin: z.string().min(1),
  logFormat: z.enum(["json", "pretty", "auto"]),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  ...REPORTING_SCHEMAS,
  ...GATE_SCHEMAS,
};

/** Every setting's key, from the schemas (which the compiler holds to SettingKey, one each). */
export const SETTING_KEYS = Object.keys(SCHEMAS) as SettingKey[];

/**
 * Builds the Config from the environment and parsed flags (a flag beats its variable).
 * Every problem is collected and reported at once; secret values are never echoed.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, unknown>>,
  requirement: Requirement = "sync",
): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const values = new Map<SettingKey, unknown>();
  for (const setting of SETTINGS) {
    const { raw, source } = rawValue(setting, env, flags);
    if (raw === undefined || raw === "") {
      if (REQUIRED[requirement].includes(setting.key)) problems.push(`${describeSource(setting)} is required: ${setting.form}`);
      continue;
    }
    const parsed = SCHEMAS[setting.key].safeParse(raw);
    if (parsed.success) {
      values.set(setting.key, parsed.data);
      continue;
    }
    const problem = `${source}=${setting.secret ? "(hidden)" : JSON.stringify(raw)} is invalid: expected ${setting.form}${detail(parsed.error)}`;
    if (OPTIONAL_FOR[requirement].includes(setting.key)) warnings.push(`${problem}; not used by this command`);
    else problems.push(problem);
  }
  if (values.has("gitToken") && !values.has("gitTokenSecret") && requirement === "sync") {
    problems.push("GIT_TOKEN is set but GIT_TOKEN_SECRET is not: the build pod receives the token only by Secret reference; create one with `kubectl -n <CICD_NS> create secret generic git-token --from-literal=token=...` and set GIT_TOKEN_SECRET=git-token");
  }
  problems.push(...reportingProblems(values, requirement));
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} configuration problem${problems.length > 1 ? "s" : ""}`, "fix the settings listed above; `ci-runner help settings` lists every setting with its variable, flag and default", problems);
  }
  return { ...assemble(values), warnings };
}

/**
 * The settings given by flag or environment (not defaults), as the variable and the raw text:
 * what `ci-runner install` writes into the CronJob's environment.
 */
export function explicitSettings(env: Readonly<Record<string, string | undefined>>, flags: Readonly<Record<string, unknown>>): { setting: Setting; raw: string }[] {
  return SETTINGS.flatMap((setting) => {
    const { raw, source } = rawValue(setting, env, flags);
    return raw === undefined || raw === "" || source.startsWith("default ") ? [] : [{ setting, raw }];
  });
}

function rawValue(setting: Setting, env: Readonly<Record<string, string | undefined>>, flags: Readonly<Record<string, unknown>>) {
  const flagValue = setting.flag ? flags[optionName(setting.flag)] : undefined;
  if (flagValue !== undefined) return { raw: String(flagValue), source: setting.flag ?? setting.env };
  const envValue = env[setting.env];
  if (envValue !== undefined && envValue !== "") return { raw: envValue, source: setting.env };
  return { raw: setting.fallback, source: `default ${setting.env}` };
}

function describeSource(setting: Setting): string {
  return setting.flag ? `${setting.env} (or ${setting.flag})` : setting.env;
}

function detail(error: z.ZodError): string {
  const custom = error.issues.find((i) => i.code === "custom" || i.code === "too_big" || i.code === "too_small");
  return custom ? ` (${custom.message})` : "";
}

function defined<T extends object>(record: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter((e) => e[1] !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** A Kubernetes quantity of memory (512Mi, 1G, 100000) in bytes. */
function toBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(match?.[1] ?? Number.NaN) * (units[match?.[2] ?? ""] ?? 1));
}

function toSeconds(text: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(text);
  const amount = Number(match?.[1] ?? Number.NaN);
  const unit = match?.[2] ?? "s";
  return amount * (unit === "h" ? 3600 : unit === "m" ? 60 : 1);
}

function assemble(values: Map<SettingKey, unknown>): Omit<Config, "warnings"> {
  const get = <T>(key: SettingKey) => values.get(key) as T;
  const repo = get<string | undefined>("repo") ?? "/";
  const [owner = "", name = ""] = repo.split("/");
  const release = get<string | undefined>("release") ?? "";
  return {
    repo: { owner, name },
    branch: get("branch"),
    image: get("image"),
    chartPath: get("chartPath"),
    release,
    cicdNamespace: get("cicdNamespace"),
    deployNamespace: get("deployNamespace"),
    deployServiceAccount: get("deployServiceAccount"),
    intervalSeconds: get("interval"),
    maxRetries: get("maxRetries"),
    gitToken: get("gitToken"),
    githubWebhookSecret: get("githubWebhookSecret"),
    gitTokenSecret: get("gitTokenSecret"),
    registrySecret: get("registrySecret"),
    registryInsecure: get("registryInsecure"),
    githubApiUrl: get("githubApiUrl"),
    gitUrl: get<string | undefined>("gitUrl") ?? `https://github.com/${repo}.git`,
    kanikoImage: get("kanikoImage"),
    dockerfile: get("dockerfile"),
    buildContext: get("buildContext"),
    buildArgs: get<Config["buildArgs"] | undefined>("buildArgs") ?? [],
    snapshotMode: get("snapshotMode"),
    buildCache: get("buildCache"),
    pushRetry: get("pushRetry"),
    buildResources: {
      // Without a storage request the scheduler would reserve the whole limit on a node.
      requests: defined({ cpu: get<string | undefined>("buildCpuRequest"), memory: get<string | undefined>("buildMemoryRequest"), "ephemeral-storage": get<string | undefined>("buildStorageRequest") }),
      limits: defined({ cpu: get<string | undefined>("buildCpuLimit"), memory: get<string | undefined>("buildMemoryLimit"), "ephemeral-storage": get<string | undefined>("buildStorageLimit") }),
    },
    imageRepositoryKey: get("imageRepositoryKey"),
    imageTagKey: get("imageTagKey"),
    valuesFiles: get<string[] | undefined>("valuesFiles") ?? [],
    helmTimeoutSeconds: get("helmTimeout"),
    helmWait: get("helmWait"),
    helmMemoryLimitBytes: get("helmMemoryLimit"),
    serviceTypes: get("serviceTypes"),
    verify: { helmTest: (get<string[] | undefined>("verify") ?? []).includes("helm-test") },
    buildTimeoutSeconds: get("buildTimeout"),
    stateConfigMap: get<string | undefined>("stateConfigMap") ?? `ci-runner-${release}`,
    leaseSeconds: get("leaseDuration"),
    kubeconfig: get("kubeconfig"),
    context: get("context"),
    helmBin: get("helmBin"),
    logFormat: get("logFormat"),
    logLevel: get("logLevel"),
    ...assembleReporting(values, get("deployNamespace"), release),
    ...assembleGates(values, get("chartPath"), get<string[] | undefined>("valuesFiles") ?? []),
  };
}
