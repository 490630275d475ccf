import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * What `ci-runner receive` makes of one GitHub webhook delivery. Pure: the server (server.ts) reads
 * the request, this decides, and the server either answers or starts a tick. The payload is never
 * trusted for what to deploy: a push only says "look now"; the tick reads the head from GitHub.
 */

/** GitHub caps a webhook payload at 25 MB: a larger body is not GitHub's. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

export interface Delivery {
  /** X-GitHub-Delivery: a GUID, the same on a redelivery. */
  readonly id: string | undefined;
  /** X-GitHub-Event. */
  readonly event: string | undefined;
  /** X-Hub-Signature-256: `sha256=<hex HMAC of the body>`. */
  readonly signature: string | undefined;
  readonly body: Buffer;
}

/** The one repository and branch this receiver starts ticks for, and the webhook's secret. */
export interface ReceiverTarget {
  readonly secret: string;
  /** owner/name, as GitHub spells it (compared case-insensitively, as GitHub does). */
  readonly repo: string;
  readonly branch: string;
}

export type Verdict =
  | { readonly kind: "unsigned" | "bad-signature" }
  | { readonly kind: "ping" }
  | { readonly kind: "ignored-event"; readonly event: string }
  | { readonly kind: "bad-payload" }
  | { readonly kind: "other-repository"; readonly repo: string }
  | { readonly kind: "other-branch"; readonly ref: string }
  | { readonly kind: "branch-deleted" }
  | { readonly kind: "push"; readonly sha: string };

/** Constant-time check of X-Hub-Signature-256 against the body; any malformed header is false. */
export function signatureValid(secret: string, body: Buffer, header: string | undefined): boolean {
  const match = /^sha256=([0-9a-f]{64})$/.exec(header ?? "");
  if (match?.[1] === undefined || secret === "") return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(match[1], "hex"));
}

/** The signature first: nothing of an unsigned body is read, not even its event header. */
export function judge(delivery: Delivery, target: ReceiverTarget): Verdict {
  if (delivery.signature === undefined) return { kind: "unsigned" };
  if (!signatureValid(target.secret, delivery.body, delivery.signature)) return { kind: "bad-signature" };
  const event = delivery.event ?? "";
  if (event === "ping") return { kind: "ping" };
  if (event !== "push") return { kind: "ignored-event", event: event.slice(0, 40) };
  let payload: { ref?: unknown; after?: unknown; deleted?: unknown; repository?: { full_name?: unknown } };
  try {
    payload = JSON.parse(delivery.body.toString("utf8")) as typeof payload;
  } catch {
    return { kind: "bad-payload" };
  }
  const repo = payload?.repository?.full_name;
  if (typeof repo !== "string" || typeof payload.ref !== "string") return { kind: "bad-payload" };
  if (repo.toLowerCase() !== target.repo.toLowerCase()) return { kind: "other-repository", repo: repo.slice(0, 140) };
  if (payload.ref !== `refs/heads/${target.branch}`) return { kind: "other-branch", ref: payload.ref.slice(0, 255) };
  if (payload.deleted === true) return { kind: "branch-deleted" };
  if (typeof payload.after !== "string" || !/^[0-9a-f]{40}$/.test(payload.after)) return { kind: "bad-payload" };
  return { kind: "push", sha: payload.after };
}

/** The HTTP status GitHub sees: 401 says nothing more; 202 is "received, nothing to do". */
export function statusOf(verdict: Verdict): number {
  switch (verdict.kind) {
    case "unsigned":
    case "bad-signature":
      return 401;
    case "bad-payload":
      return 400;
    case "ping":
      return 200;
    case "ignored-event":
    case "other-repository":
    case "other-branch":
    case "branch-deleted":
    case "push":
      return 202;
  }
}
