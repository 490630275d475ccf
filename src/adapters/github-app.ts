import { createAppAuth } from "@octokit/auth-app";
import { request as octokitRequest } from "@octokit/request";
import { z } from "zod";
import type { GitHubAppCredentials } from "../config-reporting.ts";
import { ConfigError, TransientError } from "../errors.ts";
import type { Logger, Secrets } from "../log.ts";
import { githubMessage, isRateLimit, statusOf } from "./github-client.ts";
import type { GitHubToken } from "./github-client.ts";
import { httpsTransport } from "./github-transport.ts";

/** An installation token lasts an hour; a new one is minted when less than this is left. */
const RENEW_BEFORE_MS = 10 * 60_000;

const Installation = z.object({ id: z.number().int() });

export interface GitHubAppOptions {
  readonly credentials: GitHubAppCredentials;
  readonly baseUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly secrets: Secrets;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * GitHub App authentication: the installation is found from the repository (with the App's JWT),
 * and an installation token for that one repository is minted on the first use of each run, and
 * again when it nears its hour. Nothing long-lived is stored: the token lives in this process (and,
 * for the build pod, in a Secret owned by its build Job). Every token is scrubbed from the logs.
 */
export class GitHubAppToken implements GitHubToken {
  readonly #o: GitHubAppOptions;
  readonly #auth: ReturnType<typeof createAppAuth>;
  readonly #request: typeof octokitRequest;
  #current: Promise<{ token: string; expiresAt: number }> | undefined;
  #installation: number | undefined;

  constructor(options: GitHubAppOptions) {
    this.#o = options;
    options.secrets.add(options.credentials.privateKey);
    this.#request = octokitRequest.defaults({
      baseUrl: options.baseUrl,
      headers: { "user-agent": "ci-runner" },
      request: { fetch: httpsTransport() as unknown as typeof fetch },
    });
    this.#auth = createAppAuth({ appId: options.credentials.appId, privateKey: options.credentials.privateKey, request: this.#request });
  }

  async token(): Promise<string> {
    const now = (this.#o.now ?? Date.now)();
    const current = this.#current;
    if (current !== undefined) {
      const held = await current.catch(() => undefined);
      if (held && held.expiresAt - now > RENEW_BEFORE_MS) return held.token;
    }
    this.#current = this.#mint();
    return (await this.#current).token;
  }

  async #mint(): Promise<{ token: string; expiresAt: number }> {
    const { owner, repo, log, secrets } = this.#o;
    const installationId = this.#installation ?? await this.#findInstallation();
    this.#installation = installationId;
    try {
      // refresh: a token of this run, never one cached from before (auth-app caches by default).
      const minted = await this.#auth({ type: "installation", installationId, repositoryNames: [repo], refresh: true });
      secrets.add(minted.token);
      log.info({ installation: installationId, repository: `${owner}/${repo}`, expiresAt: minted.expiresAt }, "Minted a GitHub App installation token");
      return { token: minted.token, expiresAt: Date.parse(minted.expiresAt) };
    } catch (error) {
      throw this.#translate(error, `minting an installation token for ${owner}/${repo}`);
    }
  }

  async #findInstallation(): Promise<number> {
    const { owner, repo } = this.#o;
    try {
      const app = await this.#auth({ type: "app" });
      const response = await this.#request("GET /repos/{owner}/{repo}/installation", { owner, repo, headers: { authorization: `bearer ${app.token}` } });
      return Installation.parse(response.data).id;
    } catch (error) {
      throw this.#translate(error, `finding the GitHub App's installation on ${owner}/${repo}`);
    }
  }

  #translate(error: unknown, what: string): Error {
    const { owner, repo, credentials } = this.#o;
    const status = statusOf(error);
    if (status === 401) return new ConfigError(`${what}: GitHub refused the App's signed request (${githubMessage(error)})`, `check GITHUB_APP_ID (${credentials.appId}) and that GITHUB_APP_PRIVATE_KEY is a current key of that App`);
    if (status === 404) return new ConfigError(`${what}: the App ${credentials.appId} is not installed on ${owner}/${repo} (404)`, `install the App on ${owner}/${repo} (its settings page, Install App) with Contents: read, and Deployments and Commit statuses: write for GITHUB_DEPLOYMENTS`);
    if (status === 403 && !isRateLimit(error) || status === 422) return new ConfigError(`${what}: ${githubMessage(error)}`, `give the App's installation access to ${owner}/${repo}`);
    return new TransientError(`${what}: ${githubMessage(error)}`, "the next tick tries again");
  }
}
