import { describe, expect, it } from "vitest";
import { exposition, Pushgateway, samplesFor } from "../../../src/adapters/report/pushgateway.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const NOW = new Date("2026-11-22T10:00:00Z");
const server = strictServerPerTest();

describe("Pushgateway metrics (wire format; the real Pushgateway is in the e2e suite)", () => {
  it("POSTs the text format under the release's grouping key", async () => {
    server.expect({
      method: "POST", path: "/metrics/job/ci-runner/namespace/prod/release/shop",
      check: (r) => {
        expect(r.headers["content-type"]).toBe("text/plain; version=0.0.4");
        expect(r.body).toContain("# TYPE ci_runner_deploy_duration_seconds gauge\nci_runner_deploy_duration_seconds 42.5\n");
        expect(r.body).toContain(`ci_runner_last_success_timestamp_seconds ${NOW.getTime() / 1000}\n`);
        expect(r.body).toContain('ci_runner_last_outcome{outcome="deployed"} 1\n');
      },
      reply: { status: 200 },
    });
    await new Pushgateway({ url: server.url, namespace: "prod", release: "shop", now: () => NOW }).report({ kind: "deployed", sha: SHA, attempt: 1, revision: 2, digest: undefined, seconds: 42.5 });
  });

  it("a refusal is an error naming the Pushgateway and its answer", async () => {
    server.expect({ method: "POST", path: /^\/metrics\//, reply: { status: 400, body: "pushed metrics are invalid or inconsistent with existing metrics" } });
    await expect(new Pushgateway({ url: server.url, namespace: "prod", release: "shop" }).report({ kind: "attempt-failed", sha: SHA, attempt: 1, phase: "build", message: "m", setAside: false, rolledBack: false }))
      .rejects.toThrow(`the Pushgateway at ${server.url} refused the metrics (HTTP 400: pushed metrics are invalid`);
  });

  it("outcomes: a rolled-back deploy, a set-aside commit; starts push nothing", () => {
    const rolled = samplesFor({ kind: "attempt-failed", sha: SHA, attempt: 2, phase: "deploy", message: "m", setAside: false, rolledBack: true }, NOW);
    expect(rolled.find((s) => s.name === "ci_runner_last_outcome")?.labels).toEqual({ outcome: "rolled-back" });
    expect(rolled.find((s) => s.name === "ci_runner_failed_attempts")?.value).toBe(2);
    const aside = samplesFor({ kind: "attempt-failed", sha: SHA, attempt: 3, phase: "build", message: "m", setAside: true, rolledBack: false }, NOW);
    expect(aside.find((s) => s.name === "ci_runner_set_aside")?.value).toBe(1);
    expect(samplesFor({ kind: "build-started", sha: SHA, attempt: 1, job: "j" }, NOW)).toEqual([]);
  });

  it("escapes label values", () => {
    expect(exposition([{ name: "m", help: "h", labels: { a: 'x"y\\z\nw' }, value: 1 }])).toBe('# HELP m h\n# TYPE m gauge\nm{a="x\\"y\\\\z\\nw"} 1\n');
  });
});
