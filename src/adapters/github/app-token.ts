import { createAppAuth } from "@octokit/auth-app";
import { z } from "zod";
import type { GitHubAppCredentials } from "../../config/reporting.ts";
import type { Logger, Secrets } from "../../log.ts";
import { type GitHubClient, githubClient, type GitHubCredentials, githubError, githubMessage, statusOf } from "./octokit.ts";

type Minting = Promise<{ token: string; expiresAt: number }>;

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
export class GitHubAppToken implements GitHubCredentials {
  readonly #o: GitHubAppOptions;
  readonly #auth: ReturnType<typeof createAppAuth>;
  readonly #request: GitHubClient["request"];
  readonly #held: { runner?: Minting; build?: Minting } = {};
  #installation: number | undefined;

  constructor(options: GitHubAppOptions) {
    this.#o = options;
    options.secrets.add(options.credentials.privateKey);
    // Every request here brings its own authorization (the App's JWT), so the client asks no token.
    this.#request = githubClient({ baseUrl: options.baseUrl, auth: { token: async () => undefined }, log: options.log }).request;
    this.#auth = createAppAuth({ appId: options.credentials.appId, privateKey: options.credentials.privateKey, request: this.#request });
  }

  /** The runner's token: what the App's installation may do on the repository. */
  token(): Promise<string> {
    return this.#fresh("runner", undefined);
  }

  /**
   * The build pod's token: Contents read on this one repository, nothing else. A Dockerfile's RUN
   * steps can read it, so it must not write deployments or statuses, let alone code.
   */
  buildToken(): Promise<string> {
    return this.#fresh("build", { contents: "read" });
  }

  /** The token held for `slot`, or a newly minted one when there is none or it nears its hour. */
  async #fresh(slot: "runner" | "build", permissions: Record<string, string> | undefined): Promise<string> {
    const now = (this.#o.now ?? Date.now)();
    const held = await this.#held[slot]?.catch(() => undefined);
    if (held !== undefined && held.expiresAt - now > RENEW_BEFORE_MS) return held.token;
    const minting = this.#mint(permissions);
    this.#held[slot] = minting;
    return (await minting).token;
  }

  async #mint(permissions: Record<string, string> | undefined): Promise<{ token: string; expiresAt: number }> {
    const { owner, repo, log, secrets } = this.#o;
    const installationId = this.#installation ?? await this.#findInstallation();
    this.#installation = installationId;
    try {
      // refresh: a token of this run, never one cached from before (auth-app caches by default).
      const minted = await this.#auth({ type: "installation", installationId, repositoryNames: [repo], refresh: true, ...(permissions ? { permissions } : {}) });
      secrets.add(minted.token);
      log.info({ installation: installationId, repository: `${owner}/${repo}`, expiresAt: minted.expiresAt, permissions: permissions ?? "the installation's" }, "Minted a GitHub App installation token");
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
    const refused = { message: `${what}: ${githubMessage(error)}`, remedy: `give the App's installation access to ${owner}/${repo}` };
    return githubError(error, {
      what,
      rateLimitRemedy: "the next tick tries again",
      unauthorized: { message: `${what}: GitHub refused the App's signed request (${githubMessage(error)})`, remedy: `check GITHUB_APP_ID (${credentials.appId}) and that GITHUB_APP_PRIVATE_KEY is a current key of that App` },
      refused,
      notFound: statusOf(error) !== 404 ? refused : {
        message: `${what}: the App ${credentials.appId} is not installed on ${owner}/${repo} (404)`,
        remedy: `install the App on ${owner}/${repo} (its settings page, Install App) with Contents: read, and Deployments and Commit statuses: write for GITHUB_DEPLOYMENTS`,
      },
    });
  }
}
