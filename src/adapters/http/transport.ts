import type { IncomingMessage } from "node:http";

import { TIMEOUTS } from "./timeouts.ts";

/**
 * ci-runner's one HTTP client, shaped like `fetch` and made on node:http(s): GitHub (as Octokit's
 * `request.fetch`), the state ConfigMap's fast read, the registry, the webhook and the Pushgateway
 * all go through it; only the Kubernetes client keeps its own. The global `fetch` would load
 * undici's internals: about 0.05 s of a 0.2 s idle tick, and they cannot be kept in the image's
 * startup snapshot (bench/README.md). Callers (Octokit with its retry and throttling plugins, or
 * our adapters) stay in charge of retries: this only carries one request and hands back what a
 * Response offers that they read (status, url, headers, text, json and arrayBuffer).
 *
 * node:http and node:https are loaded on the first request, never at module load: a startup
 * snapshot cannot hold their parser handles.
 */
export interface TransportOptions {
  /** No byte from the peer for this long ends the request with an error; the caller's retry decides. */
  readonly idleTimeoutMs?: number;
  /** TLS for an HTTPS peer with a private CA or client certificates (the Kubernetes API). */
  readonly tls?: TlsOptions;
}

export interface TlsOptions {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  /** false: trust any certificate (kubeconfig's insecure-skip-tls-verify). */
  readonly verify?: boolean;
}

export interface RequestInit {
  readonly method?: string | undefined;
  readonly body?: unknown;
  readonly headers?: Record<string, string> | undefined;
  readonly signal?: AbortSignal | null | undefined;
  readonly redirect?: "follow" | "manual" | "error" | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** The headers half of a Response: iterable as [lower-case name, value], and `get`. */
export class ResponseHeaders implements Iterable<[string, string]> {
  readonly #map = new Map<string, string>();

  constructor(raw: IncomingMessage["headers"]) {
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined) this.#map.set(name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value);
    }
  }

  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return this.#map.entries();
  }
}

export interface TransportResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: ResponseHeaders;
  readonly body: null;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type Transport = (url: string, init?: RequestInit) => Promise<TransportResponse>;

export function httpTransport(options: TransportOptions = {}): Transport {
  const idleTimeoutMs = options.idleTimeoutMs ?? TIMEOUTS.idleMs;
  const tls = options.tls ?? {};
  return async function transport(url, init = {}) {
    let target = new URL(url);
    let method = (init.method ?? "GET").toUpperCase();
    let body = bodyBytes(init.body);
    let headers: Record<string, string> = { ...init.headers };
    for (let redirects = 0; ; redirects++) {
      const response = await once(target, method, headers, body, init.signal ?? undefined, idleTimeoutMs, tls);
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || location === null || init.redirect === "manual") return { ...response, redirected: redirects > 0 };
      if (init.redirect === "error") throw new TypeError(`redirect from ${target.href} refused (redirect: "error")`);
      if (redirects === MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects from ${url}`);
      const next = new URL(location, target);
      // As fetch does: credentials stay with their origin, and a 303 (or a redirected POST) becomes a GET.
      if (next.origin !== target.origin) headers = withoutHeader(headers, "authorization");
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
        headers = withoutHeader(withoutHeader(headers, "content-type"), "content-length");
      }
      target = next;
    }
  };
}

function once(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal | undefined, idleTimeoutMs: number, tls: TlsOptions): Promise<Omit<TransportResponse, "redirected">> {
  if (url.protocol !== "https:" && url.protocol !== "http:") return Promise.reject(new TypeError(`unsupported protocol in ${url.href}`));
  const http = url.protocol === "https:" ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const secure = url.protocol === "https:" ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify !== false } : {};
    const request = http.request(url, { method, headers: body ? { ...headers, "content-length": String(body.length) } : headers, timeout: idleTimeoutMs, signal, ...secure }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const status = res.statusCode ?? 0;
        resolve({
          status, statusText: res.statusMessage ?? "", ok: status >= 200 && status < 300, url: url.href,
          headers: new ResponseHeaders(res.headers), body: null,
          text: async () => bytes.toString("utf8"),
          json: async () => JSON.parse(bytes.toString("utf8")) as unknown,
          arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        });
      });
    });
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url.host} within ${idleTimeoutMs / 1000} s`)));
    request.on("error", reject);
    request.end(body);
  });
}

function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // Streams and forms: ci-runner sends none, and a silent empty body would be worse than this.
  throw new TypeError(`request body of type ${Object.prototype.toString.call(body)} is not supported by the HTTP transport`);
}

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== name));
}

/**
 * Why a request got no answer, in a few words and without the URL: "no answer in time" for a
 * deadline or an abort, else the system's code (ECONNREFUSED, a TLS error's code).
 */
export function networkFailure(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "no answer in time";
  const own = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  const code = typeof own === "string" ? own : typeof cause === "string" ? cause : undefined;
  return code ?? (error instanceof Error ? error.message.split("\n")[0] ?? "unreachable" : "unreachable");
}
