import { Octokit } from "@octokit/rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { z } from "zod";
import { ConfigError, TransientError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { BranchHead, SourceHost } from "../reconcile/ports.ts";
import { httpsTransport, type Transport } from "./github-transport.ts";

const GitHub = Octokit.plugin(retry, throttling);

/** A rate-limit wait longer than this is left to the next tick rather than held in a CronJob pod. */
const MAX_RATE_LIMIT_WAIT_SECONDS = 60;

const ShaResponse = z.string().trim().regex(/^[0-9a-f]{40}$/);

export interface GitHubOptions {
  readonly baseUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly token: string | undefined;
  readonly log: Logger;
  /** Retries after a 5xx or network error (Octokit's retry plugin); tests set 0. */
  readonly retries?: number;
  /** Carries Octokit's requests; node:https by default. The snapshot's warm-up answers in memory. */
  readonly transport?: Transport;
}

/**
 * The Octokit every GitHub read of a tick uses: retry and throttling plugins (a rate limit waits
 * only when the wait is short), Octokit's own chatter at debug, and node:https instead of the
 * global fetch (github-transport.ts says why). Octokit types the transport as `typeof fetch`; it
 * reads only the parts of a Response the transport provides.
 */
export function githubOctokit(options: { baseUrl: string; token?: string | undefined; log: Logger; retries?: number; transport?: Transport }): InstanceType<typeof GitHub> {
  const { log } = options;
  const onLimit = (kind: string) => (retryAfter: number, _options: object, _octokit: unknown, retryCount: number) => {
    const retrying = retryCount < 1 && retryAfter <= MAX_RATE_LIMIT_WAIT_SECONDS;
    log.warn({ retryAfter, retrying }, kind === "primary" ? "GitHub rate limit reached" : "GitHub secondary rate limit reached");
    return retrying;
  };
  return new GitHub({
    baseUrl: options.baseUrl,
    ...(options.token ? { auth: options.token } : {}),
    userAgent: "ci-runner",
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log.debug({ octokit: m }, "Octokit warning"), error: (m: string) => log.debug({ octokit: m }, "Octokit error") },
    retry: { retries: options.retries ?? 2 },
    throttle: { onRateLimit: onLimit("primary"), onSecondaryRateLimit: onLimit("secondary") },
    request: { fetch: (options.transport ?? httpsTransport()) as unknown as typeof fetch },
  });
}

/**
 * The branch head over GitHub's REST API. A conditional request with the ETag remembered from the
 * last tick: an unchanged head is a 304, which GitHub does not count against the rate limit.
 */
export class GitHubSource implements SourceHost {
  readonly #octokit: InstanceType<typeof GitHub>;
  readonly #o: GitHubOptions;

  constructor(options: GitHubOptions) {
    this.#o = options;
    this.#octokit = githubOctokit(options);
  }

  async branchHead(known: { sha: string; etag: string } | undefined): Promise<BranchHead> {
    const { owner, repo, branch } = this.#o;
    try {
      const response = await this.#octokit.request("GET /repos/{owner}/{repo}/commits/{ref}", {
        owner, repo, ref: branch,
        headers: { accept: "application/vnd.github.sha", ...(known ? { "if-none-match": known.etag } : {}) },
      });
      const sha = ShaResponse.safeParse(asText(response.data));
      if (!sha.success) throw new TransientError(`GitHub answered the head of ${owner}/${repo}@${branch} with something other than a commit SHA`, "the next tick asks again");
      return { sha: sha.data, etag: response.headers.etag, notModified: false };
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 304 && known) return { sha: known.sha, etag: known.etag, notModified: true };
      throw this.#translate(error, status);
    }
  }

  #translate(error: unknown, status: number | undefined): Error {
    if (error instanceof TransientError) return error;
    const { owner, repo, branch, baseUrl } = this.#o;
    const where = `${owner}/${repo}@${branch} at ${baseUrl}`;
    switch (status) {
      case 401:
        return new ConfigError(`GitHub rejected GIT_TOKEN reading ${where} (401)`, "create a new token with read access to the repository contents and store it in the token Secret");
      case 404:
      case 422:
        return new ConfigError(`branch ${branch} of ${owner}/${repo} was not found at ${baseUrl} (${status})`, this.#o.token ? "check REPO and BRANCH, and that GIT_TOKEN can read the repository" : "check REPO and BRANCH; a private repository needs GIT_TOKEN");
      case 403:
      case 429:
        if (status === 429 || isRateLimit(error)) return new TransientError(`GitHub rate limit reached reading ${where} (${status})`, "the next tick retries; set GIT_TOKEN for a higher limit");
        return new ConfigError(
          `GitHub refused ${this.#o.token ? "GIT_TOKEN" : "anonymous"} access to ${where} (403, not a rate limit)`,
          this.#o.token ? "give the token read access to the repository contents (fine-grained: Contents read-only; classic: repo), and authorize it for the organization's SSO if it has one" : "set GIT_TOKEN to a token with read access to the repository contents",
        );
      default: {
        const message = status ? `HTTP ${status}` : ((error as Error).message ?? String(error)).split("\n")[0];
        return new TransientError(`cannot read the head of ${where}: ${message}`, "the next tick retries");
      }
    }
  }
}

/**
 * GitHub's documented rate-limit answers: 403 or 429 with `x-ratelimit-remaining: 0` (primary) or a
 * `retry-after` header (secondary). Any other 403 is a permission problem that no retry fixes.
 */
function isRateLimit(error: unknown): boolean {
  const headers = (error as { response?: { headers?: Record<string, string | number | undefined> } }).response?.headers ?? {};
  return String(headers["x-ratelimit-remaining"]) === "0" || headers["retry-after"] !== undefined;
}

/** The sha media type comes back as text or, without a charset, as bytes. */
function asText(data: unknown): unknown {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return Buffer.from(data as ArrayBuffer).toString("utf8");
  return data;
}
