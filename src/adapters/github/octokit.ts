import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { ConfigError, type RunnerError, TransientError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { httpTransport, type Transport } from "../http/transport.ts";

const GitHub = Octokit.plugin(retry, throttling);
export type GitHubClient = InstanceType<typeof GitHub>;

/** Gives the token for the next GitHub request: a personal token, the App's current installation token, or none. */
export interface GitHubToken {
  token(): Promise<string | undefined>;
}

/** The process's credential, and the narrower one the build pod is handed. */
export interface GitHubCredentials extends GitHubToken {
  /** With a GitHub App, a token that may only read this repository's contents; else the token itself. */
  buildToken(): Promise<string | undefined>;
}

export interface GitHubClientOptions {
  readonly baseUrl: string;
  readonly auth: GitHubToken;
  readonly log: Logger;
  /** Retries after a 5xx or network error (Octokit's retry plugin); tests set 0. */
  readonly retries?: number;
  /**
   * A rate-limit wait longer than this is not waited for: a read leaves it to the next tick rather
   * than hold a CronJob pod, a report is not worth holding a pass for.
   */
  readonly maxRateLimitWaitSeconds?: number;
  /** The throttle also spaces writes a second apart, as GitHub asks of integrations; tests turn it off. */
  readonly throttle?: boolean;
  /** Carries Octokit's requests; ci-runner's HTTP client by default. The snapshot's warm-up answers in memory. */
  readonly transport?: Transport;
}

/**
 * The one Octokit factory: the retry and throttling plugins (a rate limit waits only when the wait
 * is short), Octokit's own chatter at debug, our HTTP client instead of the global fetch
 * (http/transport.ts says why), and the token asked for on every request, so an App's installation
 * token that was renewed is used at once. Octokit types the transport as `typeof fetch`; it reads
 * only the parts of a Response the transport provides.
 */
export function githubClient(options: GitHubClientOptions): GitHubClient {
  const { log } = options;
  const maxWait = options.maxRateLimitWaitSeconds ?? 60;
  const onLimit = (kind: string) => (retryAfter: number, _options: object, _octokit: unknown, retryCount: number) => {
    const retrying = retryCount < 1 && retryAfter <= maxWait;
    log.warn({ retryAfter, retrying }, kind === "primary" ? "GitHub rate limit reached" : "GitHub secondary rate limit reached");
    return retrying;
  };
  const octokit = new GitHub({
    baseUrl: options.baseUrl,
    userAgent: "ci-runner",
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log.debug({ octokit: m }, "Octokit warning"), error: (m: string) => log.debug({ octokit: m }, "Octokit error") },
    retry: { retries: options.retries ?? 2 },
    throttle: { enabled: options.throttle ?? true, onRateLimit: onLimit("primary"), onSecondaryRateLimit: onLimit("secondary") },
    request: { fetch: (options.transport ?? httpTransport()) as unknown as typeof fetch },
  });
  octokit.hook.before("request", async (request) => {
    if (request.headers.authorization !== undefined) return; // a request that brings its own (the App's JWT)
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
 * GitHub's documented rate-limit answers: 429, or 403 with `x-ratelimit-remaining: 0` (primary) or
 * a `retry-after` header (secondary). Any other 403 is a permission the credential lacks.
 */
export function isRateLimit(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 429) return true;
  if (status !== 403) return false;
  const headers = (error as { response?: { headers?: Record<string, string | number | undefined> } }).response?.headers ?? {};
  return String(headers["x-ratelimit-remaining"]) === "0" || headers["retry-after"] !== undefined;
}

/** GitHub's message of a failed request, one line, without the request or its headers. */
export function githubMessage(error: unknown): string {
  const data = (error as { response?: { data?: { message?: unknown; errors?: { code?: string; field?: string; message?: string }[] } } }).response?.data;
  const status = statusOf(error);
  const message = typeof data?.message === "string" ? data.message : status === undefined ? String((error as Error)?.message ?? error).split("\n")[0] : "";
  const details = (data?.errors ?? []).map((e) => e.message ?? [e.field, e.code].filter(Boolean).join(" ")).filter(Boolean);
  return [status === undefined ? "" : `HTTP ${status}`, message, details.length ? `(${details.join("; ")})` : ""].filter(Boolean).join(": ").replace(/: \(/, " (");
}

/** A refusal in the caller's words: what failed and what to do. */
export interface Refusal {
  readonly message: string;
  readonly remedy: string;
}

export interface GitHubErrorWords {
  /** What was asked, e.g. "reading acme/shop@main at https://api.github.com". */
  readonly what: string;
  /** 401: the credential itself was rejected. */
  readonly unauthorized: Refusal;
  /** 403 that is no rate limit: the credential may not do this. */
  readonly refused: Refusal;
  /** 404 (and 422 where GitHub answers so for a missing ref): what is asked for is not there. */
  readonly notFound?: Refusal;
  /** What the next tick does after a rate limit. */
  readonly rateLimitRemedy?: string;
}

/**
 * The one translation of a failed GitHub request into our error classes, by status and GitHub's
 * documented rate-limit headers: a rate limit and anything unexpected are transient, a rejected or
 * refused credential and a missing repository or branch are the user's to fix. Never passes the
 * Octokit error on: it carries the request and its headers.
 */
export function githubError(error: unknown, words: GitHubErrorWords): RunnerError {
  if (error instanceof TransientError || error instanceof ConfigError) return error;
  const status = statusOf(error);
  if (isRateLimit(error)) return new TransientError(`GitHub rate limit reached ${words.what} (${status})`, words.rateLimitRemedy ?? "the next tick retries; set GIT_TOKEN for a higher limit");
  const refusal = status === 401 ? words.unauthorized : status === 403 ? words.refused : status === 404 || status === 422 ? words.notFound : undefined;
  if (refusal !== undefined) return new ConfigError(refusal.message, refusal.remedy);
  return new TransientError(`${words.what} failed: ${githubMessage(error)}`, "the next tick retries");
}

/** One repository on GitHub, and the one client this process talks to it with. */
export interface GitHubRepo {
  readonly octokit: GitHubClient;
  readonly baseUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly auth: GitHubToken;
}

export function githubRepo(options: GitHubClientOptions & { readonly owner: string; readonly repo: string }): GitHubRepo {
  return { octokit: githubClient(options), baseUrl: options.baseUrl, owner: options.owner, repo: options.repo, auth: options.auth };
}

/** Which credential a message names: the one the requests carried. */
export async function credentialName(auth: GitHubToken): Promise<"GIT_TOKEN" | "anonymous"> {
  return (await auth.token()) ? "GIT_TOKEN" : "anonymous";
}
