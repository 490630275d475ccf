import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import { type Delivery, judge, MAX_BODY_BYTES, type ReceiverTarget, statusOf, type Verdict } from "./delivery.ts";

/** Starts one tick for a push; deterministic names make a second start for the same head a no-op. */
export interface TickStarter {
  /**
   * "started": a Job now runs the CronJob's pass; "queued": a Job started for an earlier push has
   * not begun yet and will read the newest head itself; "exists": this head's Job already exists.
   */
  start(sha: string, delivery: string | undefined): Promise<TickStart>;
}

export type TickStart = "started" | "queued" | "exists";

export interface ReceiverOptions {
  readonly target: ReceiverTarget;
  readonly ticks: TickStarter;
  readonly log: Logger;
  /** GitHub gives up after 10 s; a tick not started by then is left to the schedule. */
  readonly startDeadlineMs?: number;
  /** Delivery ids remembered against replays (GitHub's redelivery sends the same id). */
  readonly rememberDeliveries?: number;
}

type Outcome = Verdict["kind"] | TickStart | "too-large" | "duplicate" | "tick-failed" | "not-found";

/**
 * `ci-runner receive`: GitHub push webhooks in, a tick out. Always on, so it holds nothing but a
 * CronJob's name, the webhook secret and its counters; the CronJob stays the fallback for a
 * delivery lost while it was down. Logs each delivery's id and outcome, never a body.
 */
export class Receiver {
  readonly server: Server;
  readonly counters = new Map<Outcome, number>();
  readonly #o: ReceiverOptions;
  readonly #seen: string[] = [];

  constructor(options: ReceiverOptions) {
    this.#o = options;
    this.server = createServer((req, res) => void this.#handle(req, res));
    // A slow or idle client cannot hold a connection: GitHub sends the whole delivery at once.
    this.server.headersTimeout = 5_000;
    this.server.requestTimeout = 15_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxConnections = 256;
  }

  listen(port: number, host = "0.0.0.0"): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") return answer(res, 200, "ok\n");
    if (req.method === "GET" && path === "/metrics") return answer(res, 200, this.#metrics());
    if (req.method !== "POST" || (path !== "/" && path !== "/webhook")) {
      this.#count("not-found");
      return answer(res, 404, "");
    }
    const id = header(req, "x-github-delivery");
    const declared = Number(req.headers["content-length"] ?? 0);
    const body = declared > MAX_BODY_BYTES ? undefined : await readBody(req);
    if (body === undefined) {
      this.#done(id, "too-large");
      res.setHeader("connection", "close");
      answer(res, 413, "");
      req.destroy();
      return;
    }
    const delivery: Delivery = { id, event: header(req, "x-github-event"), signature: header(req, "x-hub-signature-256"), body };
    const verdict = judge(delivery, this.#o.target);
    if (verdict.kind !== "push") {
      this.#done(id, verdict.kind);
      return answer(res, statusOf(verdict), statusOf(verdict) === 401 ? "" : `${verdict.kind}\n`);
    }
    if (id !== undefined && this.#seen.includes(id)) {
      this.#done(id, "duplicate", verdict.sha);
      return answer(res, 202, "duplicate\n");
    }
    try {
      const started = await withDeadline(this.#o.ticks.start(verdict.sha, id), this.#o.startDeadlineMs ?? 8_000);
      this.#remember(id);
      this.#done(id, started, verdict.sha);
      answer(res, 202, `${started}\n`);
    } catch (error) {
      this.#count("tick-failed");
      this.#o.log.warn({ delivery: id, sha: verdict.sha, err: error }, "Could not start a tick for a push; the schedule will pick it up");
      answer(res, 503, "tick-failed\n");
    }
  }

  #remember(id: string | undefined): void {
    if (id === undefined) return;
    this.#seen.push(id);
    if (this.#seen.length > (this.#o.rememberDeliveries ?? 1024)) this.#seen.shift();
  }

  #done(delivery: string | undefined, outcome: Outcome, sha?: string): void {
    this.#count(outcome);
    this.#o.log.info({ delivery: delivery?.slice(0, 64), outcome, ...(sha ? { sha } : {}) }, "Webhook delivery");
  }

  #count(outcome: Outcome): void {
    this.counters.set(outcome, (this.counters.get(outcome) ?? 0) + 1);
  }

  #metrics(): string {
    const lines = ["# HELP ci_runner_receive_deliveries_total Webhook requests by outcome.", "# TYPE ci_runner_receive_deliveries_total counter"];
    for (const [outcome, n] of [...this.counters].sort()) lines.push(`ci_runner_receive_deliveries_total{outcome="${outcome}"} ${n}`);
    return `${lines.join("\n")}\n`;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(text);
}

/** The body, or undefined once it passes GitHub's limit (whatever Content-Length said). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data");
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(undefined));
  });
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`starting the tick took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
