import { createHmac } from "node:crypto";
import { request } from "node:http";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/receive/delivery.ts";
import { Receiver, type TickStart, type TickStarter } from "../../src/receive/server.ts";

const SECRET = "s3cret-webhook-0123456789";
const sha = (c: string) => c.repeat(40);
const body = (after: string, ref = "refs/heads/main") => JSON.stringify({ ref, after, repository: { full_name: "acme/shop" } });
const sign = (text: string | Buffer) => `sha256=${createHmac("sha256", SECRET).update(text).digest("hex")}`;

/** Records every start and answers as told; each test asserts the whole list of starts. */
class FakeTicks implements TickStarter {
  starts: { sha: string; delivery: string | undefined }[] = [];
  answer: (sha: string) => Promise<TickStart> = async () => "started";
  async start(sha: string, delivery: string | undefined) {
    this.starts.push({ sha, delivery });
    return this.answer(sha);
  }
}

let receiver: Receiver | undefined;
afterEach(async () => receiver?.close());

async function serve(ticks: TickStarter, options: { startDeadlineMs?: number } = {}) {
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(l) });
  receiver = new Receiver({ target: { secret: SECRET, repo: "acme/shop", branch: "main" }, ticks, log, ...options });
  const { port } = await receiver.listen(0, "127.0.0.1");
  return { port, lines };
}

function send(port: number, init: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: init.method ?? "POST", path: init.path ?? "/webhook", headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const delivery = (port: number, text: string, id: string, extra: Record<string, string> = {}) =>
  send(port, { body: text, headers: { "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign(text), "content-type": "application/json", ...extra } });

describe("ci-runner receive's server", () => {
  it("a signed push starts one tick for its head; the same delivery again starts none", async () => {
    const ticks = new FakeTicks();
    const { port, lines } = await serve(ticks);
    expect(await delivery(port, body(sha("a")), "d-1")).toEqual({ status: 202, text: "started\n" });
    expect(await delivery(port, body(sha("a")), "d-1")).toEqual({ status: 202, text: "duplicate\n" });
    expect(ticks.starts).toEqual([{ sha: sha("a"), delivery: "d-1" }]);
    // Logged: the delivery and its outcome, never the body.
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "Webhook delivery");
    expect(logged.map((l) => [l.delivery, l.outcome])).toEqual([["d-1", "started"], ["d-1", "duplicate"]]);
    expect(lines.join("")).not.toContain("refs/heads/main");
  });

  it("wrong or missing signatures, other branches, other events and a flood of unsigned requests start nothing; it keeps answering", async () => {
    const ticks = new FakeTicks();
    const { port } = await serve(ticks);
    const text = body(sha("b"));
    expect(await send(port, { body: text, headers: { "x-github-event": "push" } })).toEqual({ status: 401, text: "" });
    expect(await send(port, { body: text, headers: { "x-github-event": "push", "x-hub-signature-256": sign(`${text} `) } })).toEqual({ status: 401, text: "" });
    expect((await delivery(port, body(sha("b"), "refs/heads/dev"), "d-2")).status).toBe(202);
    expect((await delivery(port, text, "d-3", { "x-github-event": "issues" })).status).toBe(202);
    expect((await delivery(port, "{}", "d-4", { "x-github-event": "ping" })).status).toBe(200);
    const flood = await Promise.all(Array.from({ length: 200 }, () => send(port, { body: text, headers: { "x-github-event": "push" } })));
    expect(flood.every((r) => r.status === 401)).toBe(true);
    expect(ticks.starts).toEqual([]);
    expect(await send(port, { method: "GET", path: "/healthz" })).toEqual({ status: 200, text: "ok\n" });
    const metrics = (await send(port, { method: "GET", path: "/metrics" })).text;
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="unsigned"} 201');
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="bad-signature"} 1');
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="other-branch"} 1');
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="ping"} 1');
    expect((await send(port, { method: "GET", path: "/anything" })).status).toBe(404);
  });

  it("a body over GitHub's 25 MB is refused with 413 unread, whatever Content-Length says", async () => {
    const ticks = new FakeTicks();
    const { port } = await serve(ticks);
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    expect((await send(port, { body: big, headers: { "x-github-event": "push", "x-hub-signature-256": sign(big) } })).status).toBe(413);
    // Declared small, sent large (chunked): cut off at the limit as well.
    const res = await new Promise<number>((resolve) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/webhook", headers: { "x-github-event": "push", "transfer-encoding": "chunked" } }, (r) => resolve(r.statusCode ?? 0));
      req.on("error", () => resolve(-1));
      for (let i = 0; i < 26; i++) req.write(Buffer.alloc(1024 * 1024, 0x20));
      req.end();
    });
    expect([413, -1]).toContain(res);
    expect(ticks.starts).toEqual([]);
    expect((await send(port, { method: "GET", path: "/healthz" })).status).toBe(200);
  });

  it("a tick that cannot be started answers 503 within the deadline, and a redelivery may try again", async () => {
    const ticks = new FakeTicks();
    ticks.answer = () => new Promise(() => undefined);
    const { port } = await serve(ticks, { startDeadlineMs: 200 });
    const started = Date.now();
    expect(await delivery(port, body(sha("c")), "d-5")).toEqual({ status: 503, text: "tick-failed\n" });
    expect(Date.now() - started).toBeLessThan(5_000);
    ticks.answer = async () => "queued";
    expect(await delivery(port, body(sha("c")), "d-5")).toEqual({ status: 202, text: "queued\n" });
    expect(ticks.starts).toHaveLength(2);
  });
});
