import { setTimeout as sleep } from "node:timers/promises";
import { TransientError } from "../../errors.ts";
import { TIMEOUTS } from "../http/timeouts.ts";
import { httpTransport, networkFailure, type Transport } from "../http/transport.ts";
import type { Transition } from "../../reconcile/ports.ts";
import type { Evidence } from "../../reconcile/types.ts";
import type { NamedReporter } from "./fan-out.ts";
import { oneLine, plain, short, slackEscape } from "../../text.ts";
import { failureKind, seconds } from "./text.ts";

export type WebhookEvent = "deployed" | "failed" | "rolled-back" | "set-aside";

/** ci-runner's own document: small, flat, stable field names. */
export interface WebhookDocument {
  readonly event: WebhookEvent;
  readonly repository: string;
  readonly release: string;
  readonly namespace: string;
  readonly sha: string;
  readonly attempt: number;
  readonly at: string;
  readonly revision?: number;
  readonly digest?: string;
  readonly seconds?: number;
  readonly phase?: "build" | "deploy" | "verify";
  readonly rolledBack?: boolean;
  readonly message?: string;
  readonly evidence?: Evidence;
}

export interface WebhookTarget {
  readonly repository: string;
  readonly release: string;
  readonly namespace: string;
}

/** The document for a transition, or undefined for the ones nobody is notified of. */
export function webhookDocument(t: Transition, target: WebhookTarget, at: Date): WebhookDocument | undefined {
  const base = { ...target, at: at.toISOString() };
  if (t.kind === "deployed") {
    return { event: "deployed", ...base, sha: t.sha, attempt: t.attempt, ...defined({ revision: t.revision, digest: t.digest, seconds: t.seconds }) };
  }
  if (t.kind !== "attempt-failed") return undefined;
  const kind = failureKind(t);
  return {
    event: t.setAside ? "set-aside" : kind === "rolled-back" ? "rolled-back" : "failed",
    ...base, sha: t.sha, attempt: t.attempt, phase: t.phase, rolledBack: kind === "rolled-back", message: t.message,
    ...(t.phase === "deploy" && t.evidence ? { evidence: t.evidence } : {}),
  };
}

/** Slack's incoming-webhook form: one mrkdwn text; what a commit wrote is escaped, never markup. */
export function slackMessage(d: WebhookDocument): { text: string } {
  const where = `*${d.release}* in \`${d.namespace}\` (${d.repository}@${short(d.sha)}, attempt ${d.attempt})`;
  const said = (text: string | undefined) => slackEscape(oneLine(plain(text ?? ""), 600));
  switch (d.event) {
    case "deployed":
      return { text: `:white_check_mark: Deployed ${where}${d.revision === undefined ? "" : `, revision ${d.revision}`}${seconds(d.seconds)}` };
    case "rolled-back":
      return { text: `:rewind: Rolled back ${where}: ${said(d.message)}` };
    case "set-aside":
      return { text: `:no_entry: Set aside ${where} after its last attempt${d.rolledBack ? " (rolled back)" : ""}: ${said(d.message)}` };
    case "failed":
      return { text: `:x: ${d.phase === "build" ? "Build" : "Deploy"} failed for ${where}: ${said(d.message)}` };
  }
}

export interface WebhookOptions extends WebhookTarget {
  /** A secret (it often carries the receiver's key): never logged, never in an error. */
  readonly url: string;
  readonly format: "json" | "slack";
  readonly now?: () => Date;
  /** Per try; three tries and their pauses stay within allReporters' deadline. */
  readonly tryTimeoutMs?: number;
  readonly backoffMs?: number;
  readonly transport?: Transport;
}

const TRIES = 3;

/**
 * POSTs a small JSON document on deployed, failed, rolled back and set aside. Bounded: three tries
 * (a network error, 429 or 5xx is tried again), each with a timeout. Errors never carry the URL.
 */
export class Webhook implements NamedReporter {
  readonly name = "webhook";
  readonly #o: WebhookOptions;

  constructor(options: WebhookOptions) {
    this.#o = options;
  }

  async report(transition: Transition): Promise<void> {
    const o = this.#o;
    const document = webhookDocument(transition, { repository: o.repository, release: o.release, namespace: o.namespace }, (o.now ?? (() => new Date()))());
    if (document === undefined) return;
    await this.#post(JSON.stringify(o.format === "slack" ? slackMessage(document) : document), document.event);
  }

  async #post(body: string, event: WebhookEvent): Promise<void> {
    const backoff = this.#o.backoffMs ?? 500;
    let last = "";
    for (let attempt = 1; attempt <= TRIES; attempt++) {
      if (attempt > 1) await sleep(backoff * (attempt - 1));
      try {
        const response = await (this.#o.transport ?? httpTransport())(this.#o.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "ci-runner" },
          body,
          redirect: "error",
          signal: AbortSignal.timeout(this.#o.tryTimeoutMs ?? TIMEOUTS.webhookTryMs),
        });
        if (response.ok) return;
        last = `HTTP ${response.status}`;
        if (response.status !== 429 && response.status < 500) break;
      } catch (error) {
        last = networkFailure(error);
      }
    }
    throw new TransientError(`the webhook did not take the ${event} notification (${last})`, "check WEBHOOK_URL and the receiver; the pass went on without it");
  }
}

function defined<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter((e) => e[1] !== undefined)) as Partial<T>;
}
