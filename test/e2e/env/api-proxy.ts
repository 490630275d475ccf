import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly userAgent: string;
  readonly body: string;
  /** The API server's answer; undefined while in flight or when held. */
  status?: number;
}

type Predicate = (request: ProxiedRequest) => boolean;

/**
 * An HTTPS front for the API server on loopback (same CA and serving certificate; client-go
 * will not send a token over plain HTTP). It counts every request ci-runner and helm
 * make (for the tests and the benchmark) and can hold a chosen request, never forwarding it, so a
 * test can kill the runner at an exact point: the request is in flight and never reaches the API.
 */
export async function startApiProxy(upstream: string, tls: { caCert: string; serverCert: string; serverKey: string }) {
  const ca = readFileSync(tls.caCert);
  const requests: ProxiedRequest[] = [];
  let hold: { predicate: Predicate; arrived: (r: ProxiedRequest) => void } | undefined;
  const heldResponses: ServerResponse[] = [];

  const server = createServer({ cert: readFileSync(tls.serverCert), key: readFileSync(tls.serverKey) }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: ProxiedRequest = { method: req.method ?? "", path: req.url ?? "", userAgent: String(req.headers["user-agent"] ?? ""), body: body.toString("utf8") };
      requests.push(seen);
      if (hold?.predicate(seen)) {
        const { arrived } = hold;
        hold = undefined;
        heldResponses.push(res);
        arrived(seen);
        return;
      }
      const upstreamRequest = httpsRequest(`${upstream}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(upstream).host }, ca }, (up) => {
        seen.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstreamRequest.on("error", () => { if (!res.headersSent) res.writeHead(502); res.end(); });
      res.on("close", () => upstreamRequest.destroy());
      upstreamRequest.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    /** Resolves when a request matching `predicate` arrives; that request is held, not forwarded. */
    holdNext(predicate: Predicate): Promise<ProxiedRequest> {
      return new Promise((resolve) => { hold = { predicate, arrived: resolve }; });
    },
    /** Drops held requests (the client was killed) and any pending hold. */
    releaseHeld() {
      hold = undefined;
      for (const res of heldResponses.splice(0)) res.destroy();
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
