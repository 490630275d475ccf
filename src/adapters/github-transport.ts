import type { IncomingMessage } from "node:http";

/**
 * Octokit's `request.fetch`, made on node:http(s) instead of the global `fetch`. An idle tick makes
 * one GitHub request, and the global `fetch` loads undici's internals for it: about 0.05 s of a
 * 0.2 s tick, and they cannot be kept in the image's startup snapshot (bench/README.md).
 * Octokit, its retry and throttling plugins stay in charge: this only carries
 * one request and hands back what Octokit's fetch wrapper reads from a Response (status, url,
 * headers, text and arrayBuffer).
 *
 * node:http and node:https are loaded on the first request, never at module load: a startup
 * snapshot cannot hold their parser handles.
 */
export interface TransportOptions {
  /** No byte from GitHub for this long ends the request with an error; Octokit's retry decides. */
  readonly idleTimeoutMs?: number;
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

export function httpsTransport(options: TransportOptions = {}): Transport {
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  return async function transport(url, init = {}) {
    let target = new URL(url);
    let method = (init.method ?? "GET").toUpperCase();
    let body = bodyBytes(init.body);
    let headers: Record<string, string> = { ...init.headers };
    for (let redirects = 0; ; redirects++) {
      const response = await once(target, method, headers, body, init.signal ?? undefined, idleTimeoutMs);
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

function once(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<Omit<TransportResponse, "redirected">> {
  if (url.protocol !== "https:" && url.protocol !== "http:") return Promise.reject(new TypeError(`unsupported protocol in ${url.href}`));
  const http = url.protocol === "https:" ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const request = http.request(url, { method, headers: body ? { ...headers, "content-length": String(body.length) } : headers, timeout: idleTimeoutMs, signal }, (res) => {
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
  throw new TypeError(`request body of type ${Object.prototype.toString.call(body)} is not supported by the GitHub transport`);
}

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== name));
}
