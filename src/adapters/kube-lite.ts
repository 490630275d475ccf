import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { decodeState } from "../reconcile/state-codec.ts";
import { firstByName, kubeconfigFiles } from "./kubeconfig-files.ts";
import type { StateSnapshot } from "../reconcile/types.ts";

/**
 * The idle tick's one Kubernetes read, without loading the Kubernetes client: that client costs
 * about 0.17 s and 50 MB per process (see bench/), and 1,440 ticks a day mostly find nothing new.
 * Only static credentials are handled here (the ServiceAccount in a pod; a kubeconfig with a
 * token or client certificate). Anything else (exec plugins, auth providers, proxies), and any
 * answer but 200 or 404, returns undefined: the full client then does the read and reports errors.
 */
export interface StaticAccess {
  readonly server: string;
  readonly ca?: Buffer | undefined;
  readonly token?: string | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly insecure: boolean;
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
  clusters?: { name: string; cluster?: Record<string, unknown> }[];
  users?: { name: string; user?: Record<string, unknown> }[];
}

export function staticAccess(options: { kubeconfig: string | undefined; context: string | undefined; inCluster: boolean; defaultKubeconfig: string; serviceHost?: string | undefined; servicePort?: string | undefined }): StaticAccess | undefined {
  try {
    if (options.kubeconfig === undefined && options.inCluster) {
      const host = options.serviceHost ?? "";
      return {
        server: `https://${host.includes(":") ? `[${host}]` : host}:${options.servicePort ?? "443"}`,
        token: readFileSync(join(SERVICE_ACCOUNT, "token"), "utf8").trim(),
        ca: readFileSync(join(SERVICE_ACCOUNT, "ca.crt")),
        insecure: false,
      };
    }
    // A KUBECONFIG list is merged as kubectl merges it; each entry keeps the file it came from,
    // whose directory its relative paths are resolved against.
    const loaded = kubeconfigFiles(options.kubeconfig ?? options.defaultKubeconfig)
      .map((file) => ({ file, config: (parseYaml(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile }));
    const merged = <T extends { name: string }>(pick: (c: KubeconfigFile) => T[] | undefined) =>
      firstByName(loaded.map(({ file, config }) => pick(config)?.map((entry) => ({ ...entry, file }))));
    const contextName = options.context ?? loaded.map((l) => l.config["current-context"]).find(Boolean);
    const context = merged((c) => c.contexts).find((c) => c.name === contextName)?.context;
    const clusterEntry = merged((c) => c.clusters).find((c) => c.name === context?.cluster);
    const userEntry = merged((c) => c.users).find((u) => u.name === context?.user);
    const cluster = clusterEntry?.cluster;
    const user = userEntry?.user ?? {};
    if (!clusterEntry || !cluster || typeof cluster.server !== "string" || cluster["proxy-url"] !== undefined) return undefined;
    const known = new Set(["token", "client-certificate-data", "client-key-data", "client-certificate", "client-key"]);
    if (Object.keys(user).some((k) => !known.has(k))) return undefined;
    const relative = (path: unknown, from: string) => (typeof path === "string" ? readFileSync(isAbsolute(path) ? path : join(dirname(from), path)) : undefined);
    const data = (value: unknown) => (typeof value === "string" ? Buffer.from(value, "base64") : undefined);
    const userFile = userEntry?.file ?? clusterEntry.file;
    return {
      server: cluster.server,
      ca: data(cluster["certificate-authority-data"]) ?? relative(cluster["certificate-authority"], clusterEntry.file),
      token: typeof user.token === "string" ? user.token : undefined,
      cert: data(user["client-certificate-data"]) ?? relative(user["client-certificate"], userFile),
      key: data(user["client-key-data"]) ?? relative(user["client-key"], userFile),
      insecure: cluster["insecure-skip-tls-verify"] === true,
    };
  } catch {
    return undefined;
  }
}

/** GET of the state ConfigMap; undefined when anything is off, so the full client takes over. */
export function readStateLite(access: StaticAccess, namespace: string, name: string): Promise<StateSnapshot | undefined> {
  const url = new URL(`${access.server.replace(/\/+$/, "")}/api/v1/namespaces/${namespace}/configmaps/${name}`);
  const request = url.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise((resolve) => {
    const req = request(url, {
      method: "GET",
      headers: { accept: "application/json", "user-agent": "ci-runner", ...(access.token ? { authorization: `Bearer ${access.token}` } : {}) },
      ca: access.ca, cert: access.cert, key: access.key, rejectUnauthorized: !access.insecure,
      timeout: 15_000,
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => { body += chunk; });
      res.on("end", () => {
        if (res.statusCode === 404) return resolve({ state: {}, resourceVersion: undefined, warnings: [] });
        if (res.statusCode !== 200) return resolve(undefined);
        try {
          const cm = JSON.parse(body) as { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };
          const { state, warnings } = decodeState(cm.metadata?.annotations);
          resolve({ state, resourceVersion: cm.metadata?.resourceVersion, warnings });
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
