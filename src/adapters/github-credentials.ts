import type { Config } from "../config.ts";
import type { Logger, Secrets } from "../log.ts";
import type { GitHubToken } from "./github-client.ts";

/**
 * The one GitHub credential of a process: GIT_TOKEN as given, or a GitHub App's installation token
 * (auth-app is loaded only then, so a token-only idle tick does not pay for it).
 */
export function githubCredentials(config: Pick<Config, "gitToken" | "githubApp" | "githubApiUrl" | "repo">, secrets: Secrets, log: Logger): GitHubToken {
  const app = config.githubApp;
  if (app === undefined) return { token: async () => config.gitToken };
  secrets.add(app.privateKey);
  let minter: Promise<GitHubToken> | undefined;
  return {
    async token() {
      minter ??= import("./github-app.ts").then((m) => new m.GitHubAppToken({ credentials: app, baseUrl: config.githubApiUrl, owner: config.repo.owner, repo: config.repo.name, secrets, log }));
      return (await minter).token();
    },
  };
}

/**
 * An adapter built with a token string, used with the current token: every method call waits for
 * the token and goes to the instance made for it (one per token, so whatever an instance keeps,
 * ETags or a prefetched checkout, lasts as long as its token). Only for adapters whose methods all
 * return promises or nothing.
 */
export function tokenBound<T extends object>(auth: GitHubToken, make: (token: string | undefined) => T): T {
  const instances = new Map<string | undefined, T>();
  const current = async () => {
    const token = await auth.token();
    let instance = instances.get(token);
    if (instance === undefined) {
      instance = make(token);
      instances.set(token, instance);
    }
    return instance;
  };
  return new Proxy({} as T, {
    get(_target, property) {
      return async (...args: unknown[]) => {
        const instance = await current();
        const method = Reflect.get(instance, property) as (...a: unknown[]) => unknown;
        return method.apply(instance, args);
      };
    },
  });
}
