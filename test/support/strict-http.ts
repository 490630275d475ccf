import { createServer, type IncomingHttpHeaders } from "node:http";
import { afterEach, beforeEach } from "vitest";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Expectation {
  readonly method: string;
  /** Path and query, matched exactly as a string or by a RegExp. */
  readonly path: string | RegExp;
  /** `hold: true` never answers: a stalled server (accepts the request, sends nothing). */
  readonly reply: { status: number; headers?: Record<string, string>; body?: unknown; hold?: boolean };
  /** Extra assertions on the request; a throw fails the test at verify(). */
  readonly check?: (request: SeenRequest) => void;
}

/**
 * A loopback HTTP server that answers only the requests it was told to expect, in order. An
 * unexpected request gets a 599 and fails verify(); so does an expectation never used.
 */
export async function strictServer() {
  const queue: Expectation[] = [];
  const problems: string[] = [];
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => { body += chunk.toString("utf8"); });
    req.on("end", () => {
      const request = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(request);
      const next = queue.shift();
      const matches = next && next.method === request.method && (typeof next.path === "string" ? next.path === request.url : next.path.test(request.url));
      if (!next || !matches) {
        problems.push(`unexpected ${request.method} ${request.url}${next ? ` (expected ${next.method} ${String(next.path)})` : ""}`);
        res.writeHead(599).end();
        return;
      }
      try {
        next.check?.(request);
      } catch (error) {
        problems.push(`${request.method} ${request.url}: ${(error as Error).message}`);
      }
      if (next.reply.hold) return;
      const payload = next.reply.body === undefined ? "" : typeof next.reply.body === "string" ? next.reply.body : JSON.stringify(next.reply.body);
      res.writeHead(next.reply.status, { "content-type": typeof next.reply.body === "string" ? "text/plain" : "application/json", ...next.reply.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    expect(...expectations: Expectation[]) {
      queue.push(...expectations);
    },
    /** Throws when a request was unexpected, a check failed, or an expectation was not used. */
    verify() {
      const unused = queue.map((e) => `expected ${e.method} ${String(e.path)} was never requested`);
      const all = [...problems, ...unused];
      queue.length = 0;
      problems.length = 0;
      if (all.length > 0) throw new Error(all.join("\n"));
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export type StrictServer = Awaited<ReturnType<typeof strictServer>>;

/**
 * A strict server for each test of the calling file: started before each, verified (unexpected
 * or unused requests fail the test) and closed after each. The returned object stands for the
 * current test's server.
 */
export function strictServerPerTest(): StrictServer {
  let current: StrictServer | undefined;
  beforeEach(async () => {
    current = await strictServer();
  });
  afterEach(async () => {
    const server = current;
    current = undefined;
    try {
      server?.verify();
    } finally {
      await server?.close();
    }
  });
  return new Proxy({} as StrictServer, {
    get(_target, property) {
      if (current === undefined) throw new Error("strictServerPerTest: used outside a test");
      return Reflect.get(current, property);
    },
  });
}
