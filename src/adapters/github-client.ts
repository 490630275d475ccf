import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import type { Logger } from "../log.ts";
import { httpsTransport } from "./github-transport.ts";

const GitHub = Octokit.plugin(retry, throttling);
export type GitHubClient = InstanceType<typeof GitHub>;

/** Gives the token for the next GitHub request: a personal token, or the App's current installation token. */
export interface GitHubToken {
  token(): Promise<string | undefined>;
}

/** A rate-limit wait longer than this is not worth holding a pass for a report. */
const MAX_RATE_LIMIT_WAIT_SECONDS = 10;

/**
 * An Octokit for the writes that report (deployments, statuses), set up like GitHubSource's: the
 * same plugins and the node:https transport. The token is asked for on each request, so an App's
 * installation token that was renewed is used at once.
 */
export function githubClient(options: { baseUrl: string; auth: GitHubToken; log: Logger; retries?: number; throttle?: boolean }): GitHubClient {
  const { log } = options;
  const onLimit = (retryAfter: number, _options: object, _octokit: unknown, retryCount: number) => retryCount < 1 && retryAfter <= MAX_RATE_LIMIT_WAIT_SECONDS;
  const octokit = new GitHub({
    baseUrl: options.baseUrl,
    userAgent: "ci-runner",
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log.debug({ octokit: m }, "Octokit warning"), error: (m: string) => log.debug({ octokit: m }, "Octokit error") },
    retry: { retries: options.retries ?? 1 },
    // The throttle also spaces writes a second apart, as GitHub asks of integrations; tests turn it off.
    throttle: { enabled: options.throttle ?? true, onRateLimit: onLimit, onSecondaryRateLimit: onLimit },
    request: { fetch: httpsTransport() as unknown as typeof fetch },
  });
  octokit.hook.before("request", async (request) => {
    const token = await options.auth.token();
    if (token) request.headers.authorization = `token ${token}`;
  });
  return octokit;
}

/** HTTP status of an Octokit error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

/**
 * GitHub's documented rate-limit answers: 403 or 429 with `x-ratelimit-remaining: 0` (primary) or a
 * `retry-after` header (secondary). Any other 403 is a permission the token lacks.
 */
export function isRateLimit(error: unknown): boolean {
  const headers = (error as { response?: { headers?: Record<string, string | number | undefined> } }).response?.headers ?? {};
  return statusOf(error) === 429 || String(headers["x-ratelimit-remaining"]) === "0" || headers["retry-after"] !== undefined;
}

/** GitHub's message of a failed request, one line, without the request or its headers. */
export function githubMessage(error: unknown): string {
  const data = (error as { response?: { data?: { message?: unknown; errors?: { code?: string; field?: string; message?: string }[] } } }).response?.data;
  const status = statusOf(error);
  const message = typeof data?.message === "string" ? data.message : status === undefined ? String((error as Error)?.message ?? error).split("\n")[0] : "";
  const details = (data?.errors ?? []).map((e) => e.message ?? [e.field, e.code].filter(Boolean).join(" ")).filter(Boolean);
  return [status === undefined ? "" : `HTTP ${status}`, message, details.length ? `(${details.join("; ")})` : ""].filter(Boolean).join(": ").replace(/: \(/, " (");
}
