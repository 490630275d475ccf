import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { judge, signatureValid, statusOf, type Verdict } from "../../src/receive/delivery.ts";
import { pushJobName } from "../../src/names.ts";

const SECRET = "s3cret-webhook-0123456789";
const TARGET = { secret: SECRET, repo: "Acme/Shop", branch: "main" };
const SHA = "a".repeat(40);
const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
const push = (over: Record<string, unknown> = {}) => JSON.stringify({ ref: "refs/heads/main", after: SHA, deleted: false, repository: { full_name: "acme/shop" }, ...over });

function verdict(body: string, headers: { event?: string; signature?: string | null } = {}): Verdict {
  const signature = headers.signature === null ? undefined : (headers.signature ?? sign(body));
  return judge({ id: "d-1", event: headers.event ?? "push", signature, body: Buffer.from(body) }, TARGET);
}

describe("a webhook delivery", () => {
  it.each<[string, () => Verdict, Verdict["kind"], number]>([
    ["a signed push to the branch starts a tick", () => verdict(push()), "push", 202],
    ["no signature: 401, nothing read", () => verdict("not json at all", { signature: null, event: "ping" }), "unsigned", 401],
    ["a signature with another secret", () => verdict(push(), { signature: sign(push(), "another-secret-0123456") }), "bad-signature", 401],
    ["a signature of another body", () => verdict(push(), { signature: sign(push({ after: "b".repeat(40) })) }), "bad-signature", 401],
    ["a malformed signature header", () => verdict(push(), { signature: "sha1=abc" }), "bad-signature", 401],
    ["a truncated signature", () => verdict(push(), { signature: sign(push()).slice(0, 40) }), "bad-signature", 401],
    ["ping", () => verdict("{}", { event: "ping" }), "ping", 200],
    ["another event", () => verdict(push(), { event: "pull_request" }), "ignored-event", 202],
    ["another repository", () => verdict(push({ repository: { full_name: "acme/other" } })), "other-repository", 202],
    ["another branch", () => verdict(push({ ref: "refs/heads/feature" })), "other-branch", 202],
    ["a tag named like the branch", () => verdict(push({ ref: "refs/tags/main" })), "other-branch", 202],
    ["the branch deleted", () => verdict(push({ deleted: true, after: "0".repeat(40) })), "branch-deleted", 202],
    ["signed but not JSON", () => verdict("{nope"), "bad-payload", 400],
    ["signed JSON without a repository", () => verdict(JSON.stringify({ ref: "refs/heads/main", after: SHA })), "bad-payload", 400],
    ["signed push whose after is no SHA", () => verdict(push({ after: "HEAD" })), "bad-payload", 400],
  ])("%s", (_name, run, kind, status) => {
    const v = run();
    expect(v.kind).toBe(kind);
    expect(statusOf(v)).toBe(status);
    if (v.kind === "push") expect(v.sha).toBe(SHA);
  });

  it("an empty secret verifies nothing", () => {
    expect(signatureValid("", Buffer.from("x"), sign("x", ""))).toBe(false);
    expect(signatureValid(SECRET, Buffer.from("x"), sign("x"))).toBe(true);
  });
});

describe("the Job a push starts", () => {
  it("is named per head, within Kubernetes' 63 characters, distinct for long CronJob names", () => {
    expect(pushJobName("ci-runner-shop", SHA)).toBe(`ci-runner-shop-push-${"a".repeat(12)}`);
    const long = `ci-runner-${"x".repeat(50)}`;
    const a = pushJobName(long, SHA);
    const b = pushJobName(`${long}y`, SHA);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(b.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
