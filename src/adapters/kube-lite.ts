import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { decodeState } from "../reconcile/state-codec.ts";
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
    const file = options.kubeconfig ?? options.defaultKubeconfig;
    if (file.includes(":")) return undefined; // a KUBECONFIG list: leave merging to the client
    const config = parseYaml(readFileSync(file, "utf8")) as KubeconfigFile;
    const contextName = options.context ?? config["current-context"];
    const context = config.contexts?.find((c) => c.name === contextName)?.context;
    const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    const user = config.users?.find((u) => u.name === context?.user)?.user ?? {};
    if (!cluster || typeof cluster.server !== "string" || cluster["proxy-url"] !== undefined) return undefined;
    const known = new Set(["token", "client-certificate-data", "client-key-data", "client-certificate", "client-key"]);
    if (Object.keys(user).some((k) => !known.has(k))) return undefined;
    const relative = (path: unknown) => (typeof path === "string" ? readFileSync(isAbsolute(path) ? path : join(dirname(file), path)) : undefined);
    const data = (value: unknown) => (typeof value === "string" ? Buffer.from(value, "base64") : undefined);
    return {
      server: cluster.server,
      ca: data(cluster["certificate-authority-data"]) ?? relative(cluster["certificate-authority"]),
      token: typeof user.token === "string" ? user.token : undefined,
      cert: data(user["client-certificate-data"]) ?? relative(user["client-certificate"]),
      key: data(user["client-key-data"]) ?? relative(user["client-key"]),
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
