import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../../errors.ts";

/**
 * How ci-runner finds the cluster, like kubectl: --kubeconfig or KUBECONFIG (a list `a:b` is
 * merged as kubectl merges it), else the ServiceAccount in a pod, else ~/.kube/config; --context
 * picks one. The files are read and merged here once, for both readers: the idle tick's fast read
 * of the state (static credentials only, `staticAccess`) and the Kubernetes client (`kubeConfig`).
 */
export interface KubeTarget {
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  /** True in a pod (KUBERNETES_SERVICE_HOST set): use the ServiceAccount when no kubeconfig is given. */
  readonly inCluster: boolean;
  /** Where kubectl looks by default: ~/.kube/config. */
  readonly defaultKubeconfig: string;
  readonly serviceHost?: string | undefined;
  readonly servicePort?: string | undefined;
}

type Entry = { readonly name: string; readonly [key: string]: unknown };

/** A kubeconfig as kubectl sees it after merging, with every file path made absolute. */
export interface MergedKubeconfig {
  readonly clusters: readonly Entry[];
  readonly users: readonly Entry[];
  readonly contexts: readonly Entry[];
  readonly "current-context": string | undefined;
}

/** The ServiceAccount's credentials in a pod. */
const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Per entry kind, the fields that name a file, resolved against the file that defines the entry. */
const PATH_FIELDS = { clusters: { cluster: ["certificate-authority"] }, users: { user: ["client-certificate", "client-key"] } } as const;

/**
 * KUBECONFIG may name several files, which kubectl merges: the first file to define a cluster, user
 * or context name wins, and current-context comes from the first file that sets one. Files of a
 * list that do not exist are skipped, as kubectl does; a single named file must exist. Throws a
 * ConfigError naming the file that could not be read.
 */
export function mergedKubeconfig(value: string): MergedKubeconfig {
  const named = value.split(delimiter).filter(Boolean);
  const files = named.length === 1 ? named : named.filter((file) => existsSync(file));
  if (files.length === 0) throw new ConfigError(`cannot read kubeconfig ${value}: none of its files exists`, "pass --kubeconfig or set KUBECONFIG to a readable kubeconfig");
  const loaded = files.map((file) => {
    try {
      return { file, doc: (parseYaml(readFileSync(file, "utf8")) ?? {}) as Record<string, unknown> };
    } catch (error) {
      throw new ConfigError(`cannot read kubeconfig ${file}: ${(error as Error).message.split("\n")[0]}`, "pass --kubeconfig or set KUBECONFIG to a readable kubeconfig");
    }
  });
  const merge = (kind: "clusters" | "users" | "contexts"): Entry[] => {
    const seen = new Set<string>();
    const out: Entry[] = [];
    for (const { file, doc } of loaded) {
      for (const entry of (Array.isArray(doc[kind]) ? doc[kind] : []) as Entry[]) {
        if (typeof entry?.name !== "string" || seen.has(entry.name)) continue;
        seen.add(entry.name);
        out.push(kind === "contexts" ? entry : absolutePaths(entry, PATH_FIELDS[kind], dirname(file)));
      }
    }
    return out;
  };
  const current = loaded.map(({ doc }) => doc["current-context"]).find((c): c is string => typeof c === "string" && c !== "");
  return { clusters: merge("clusters"), users: merge("users"), contexts: merge("contexts"), "current-context": current };
}

function absolutePaths(entry: Entry, fields: Readonly<Record<string, readonly string[]>>, from: string): Entry {
  const [section, names] = Object.entries(fields)[0] ?? ["", []];
  const body = entry[section];
  if (typeof body !== "object" || body === null) return entry;
  const resolved: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const name of names) {
    const path = resolved[name];
    if (typeof path === "string" && !isAbsolute(path)) resolved[name] = join(from, path);
  }
  return { ...entry, [section]: resolved };
}

/** Static credentials: enough for a plain HTTPS request without the Kubernetes client. */
export interface StaticAccess {
  readonly server: string;
  readonly ca?: Buffer | undefined;
  readonly token?: string | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly insecure: boolean;
}

const STATIC_USER_FIELDS = new Set(["token", "client-certificate-data", "client-key-data", "client-certificate", "client-key"]);

/**
 * The target's credentials when they are static (the ServiceAccount in a pod; a kubeconfig with a
 * token or client certificate); undefined for anything else (exec plugins, auth providers,
 * proxies) or any problem reading them: the Kubernetes client then does the work and reports it.
 */
export function staticAccess(target: KubeTarget): StaticAccess | undefined {
  try {
    if (target.kubeconfig === undefined && target.inCluster) {
      const host = target.serviceHost ?? "";
      return {
        server: `https://${host.includes(":") ? `[${host}]` : host}:${target.servicePort ?? "443"}`,
        token: readFileSync(join(SERVICE_ACCOUNT, "token"), "utf8").trim(),
        ca: readFileSync(join(SERVICE_ACCOUNT, "ca.crt")),
        insecure: false,
      };
    }
    const merged = mergedKubeconfig(target.kubeconfig ?? target.defaultKubeconfig);
    const contextName = target.context ?? merged["current-context"];
    const context = merged.contexts.find((c) => c.name === contextName)?.context as { cluster?: string; user?: string } | undefined;
    const cluster = merged.clusters.find((c) => c.name === context?.cluster)?.cluster as Record<string, unknown> | undefined;
    const user = (merged.users.find((u) => u.name === context?.user)?.user ?? {}) as Record<string, unknown>;
    if (!cluster || typeof cluster.server !== "string" || cluster["proxy-url"] !== undefined) return undefined;
    if (Object.keys(user).some((k) => !STATIC_USER_FIELDS.has(k))) return undefined;
    const file = (path: unknown) => (typeof path === "string" ? readFileSync(path) : undefined);
    const data = (value: unknown) => (typeof value === "string" ? Buffer.from(value, "base64") : undefined);
    return {
      server: cluster.server,
      ca: data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]),
      token: typeof user.token === "string" ? user.token : undefined,
      cert: data(user["client-certificate-data"]) ?? file(user["client-certificate"]),
      key: data(user["client-key-data"]) ?? file(user["client-key"]),
      insecure: cluster["insecure-skip-tls-verify"] === true,
    };
  } catch {
    return undefined;
  }
}

/**
 * A kubeconfig file for a child (helm) in a pod: the ServiceAccount's CA and token by path (so a
 * rotated token is read afresh), the API server from the pod's environment. A child given
 * `--kube-as-user` does not fall back to in-cluster configuration by itself (client-go uses it only
 * when nothing overrides the defaults), so it is handed this file instead. It holds no secret.
 */
export function inClusterKubeconfig(target: KubeTarget, dir: string): string {
  const host = target.serviceHost ?? "";
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${target.servicePort ?? "443"}`;
  const file = join(dir, `ci-runner-${process.pid}.kubeconfig`);
  const config = {
    apiVersion: "v1", kind: "Config", "current-context": "in-cluster",
    clusters: [{ name: "in-cluster", cluster: { server, "certificate-authority": join(SERVICE_ACCOUNT, "ca.crt") } }],
    users: [{ name: "service-account", user: { tokenFile: join(SERVICE_ACCOUNT, "token") } }],
    contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "service-account" } }],
  };
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}
