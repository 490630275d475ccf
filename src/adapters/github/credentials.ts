import type { Config } from "../../config/load.ts";
import type { Logger, Secrets } from "../../log.ts";
import type { GitHubCredentials } from "./octokit.ts";

/**
 * The one GitHub credential of a process: GIT_TOKEN as given, or a GitHub App's installation token
 * (auth-app is loaded only then, so a token-only idle tick does not pay for it). Every adapter that
 * talks to GitHub, or hands a token on (git, the build pod), asks it for the current token.
 */
export function githubCredentials(config: Pick<Config, "gitToken" | "githubApp" | "githubApiUrl" | "repo">, secrets: Secrets, log: Logger): GitHubCredentials {
  const app = config.githubApp;
  // A personal token cannot be narrowed: the build gets the same one (docs/security.md says so).
  if (app === undefined) return { token: async () => config.gitToken, buildToken: async () => config.gitToken };
  secrets.add(app.privateKey);
  let minter: Promise<GitHubCredentials> | undefined;
  const minted = () => (minter ??= import("./app-token.ts").then((m) => new m.GitHubAppToken({ credentials: app, baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, secrets, log })));
  return {
    token: async () => (await minted()).token(),
    buildToken: async () => (await minted()).buildToken(),
  };
}
