import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { allReporters } from "../../../src/adapters/report/fan-out.ts";
import { Webhook, webhookDocument } from "../../../src/adapters/report/webhook.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const NOW = new Date("2026-11-22T10:00:00Z");
const TARGET = { repository: "acme/shop", release: "shop", namespace: "prod" };
const HOOK = "/services/T000/B000/secretpart0123456789";
const server = strictServerPerTest();

function hook(format: "json" | "slack", url = `${server.url}${HOOK}`) {
  return new Webhook({ ...TARGET, url, format, now: () => NOW, tryTimeoutMs: 300, backoffMs: 10 });
}

describe("webhook notifications", () => {
  it("posts ci-runner's JSON document on deployed", async () => {
    server.expect({
      method: "POST", path: HOOK,
      check: (r) => {
        expect(r.headers["content-type"]).toBe("application/json");
        expect(JSON.parse(r.body)).toEqual({ event: "deployed", ...TARGET, sha: SHA, attempt: 1, at: NOW.toISOString(), revision: 3, digest: "sha256:ab", seconds: 9 });
      },
      reply: { status: 204 },
    });
    await hook("json").report({ kind: "deployed", sha: SHA, attempt: 1, revision: 3, digest: "sha256:ab", seconds: 9 });
  });

  it("a rolled-back deploy carries the evidence the deploy adapter kept; Slack gets one text", async () => {
    const evidence = { summary: "pod web-1: app CrashLoopBackOff, exit code 3; last log: boom", pods: [{ pod: "web-1", containers: ["app: waiting CrashLoopBackOff"], events: [], logTail: ["boom"] }] };
    const failed = { kind: "attempt-failed", sha: SHA, attempt: 2, phase: "deploy", message: "helm upgrade of shop was ended early and rolled back: pod web-1 ...", setAside: false, rolledBack: true, evidence } as const;
    server.expect(
      { method: "POST", path: HOOK, check: (r) => expect(JSON.parse(r.body)).toMatchObject({ event: "rolled-back", rolledBack: true, phase: "deploy", evidence }), reply: { status: 200 } },
      { method: "POST", path: HOOK, check: (r) => expect(JSON.parse(r.body)).toEqual({ text: expect.stringMatching(/^:rewind: Rolled back \*shop\* in `prod` \(acme\/shop@0123456789ab, attempt 2\): helm upgrade/) }), reply: { status: 200, body: "ok" } },
    );
    await hook("json").report(failed);
    await hook("slack").report(failed);
  });

  it("a set-aside commit is one set-aside notification; other transitions send nothing", async () => {
    server.expect({ method: "POST", path: HOOK, check: (r) => expect(JSON.parse(r.body)).toMatchObject({ event: "set-aside", phase: "build", rolledBack: false, message: "build pod exited with code 1" }), reply: { status: 200 } });
    const webhook = hook("json");
    await webhook.report({ kind: "build-started", sha: SHA, attempt: 3, job: "j" });
    await webhook.report({ kind: "attempt-failed", sha: SHA, attempt: 3, phase: "build", message: "build pod exited with code 1", setAside: true, rolledBack: false });
    expect(webhookDocument({ kind: "lease-contention", holder: "h", expiresAt: "t" }, TARGET, NOW)).toBeUndefined();
  });

  it("tries a 5xx again, at most three times, and never names the URL in the error", async () => {
    server.expect(
      { method: "POST", path: HOOK, reply: { status: 502 } },
      { method: "POST", path: HOOK, reply: { status: 503 } },
      { method: "POST", path: HOOK, reply: { status: 500 } },
    );
    const error = await hook("json").report({ kind: "deployed", sha: SHA, attempt: 1, revision: 1, digest: undefined, seconds: undefined }).catch((e: Error) => e);
    expect((error as Error).message).toBe("the webhook did not take the deployed notification (HTTP 500)");
    expect((error as Error).message).not.toContain("secretpart");
  });

  it("a 4xx is not tried again", async () => {
    server.expect({ method: "POST", path: HOOK, reply: { status: 404, body: "no_service" } });
    await expect(hook("slack").report({ kind: "deployed", sha: SHA, attempt: 1, revision: 1, digest: undefined, seconds: undefined })).rejects.toThrow(/HTTP 404/);
  });

  it("a dead or silent receiver does not fail the pass: the warning names no URL", async () => {
    const port = await closedPort();
    server.expect(...[1, 2, 3].map(() => ({ method: "POST", path: HOOK, reply: { status: 200, hold: true } })));
    const lines: string[] = [];
    const started = Date.now();
    await allReporters([hook("json", `http://127.0.0.1:${port}${HOOK}`), { ...hook("json"), name: "silent", report: (t) => hook("json").report(t) }], testLog(lines))
      .report({ kind: "deployed", sha: SHA, attempt: 1, revision: 1, digest: undefined, seconds: undefined });
    expect(Date.now() - started).toBeLessThan(3000);
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn").map((l) => l.error);
    expect(warnings.sort()).toEqual([
      "the webhook did not take the deployed notification (ECONNREFUSED)",
      "the webhook did not take the deployed notification (no answer in time)",
    ]);
    expect(lines.join("\n")).not.toContain(String(port));
  });
});

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
