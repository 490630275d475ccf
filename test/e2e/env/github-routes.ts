import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { checkedResponse } from "../../support/github-openapi.ts";
import { githubFake } from "../../support/github-fake.ts";

/**
 * The GitHub REST writes ci-runner's reporting makes and a GitHub App's installation (in
 * test/support/github-fake.ts), mounted on the git server: the App is installed on every
 * repository of the server. Every API answer of the server, whoever sends it, is checked against
 * GitHub's OpenAPI description; an API request nobody answers is a problem too. Both are listed at
 * GET /_github, with what was recorded; PUT /_github/settings switches a token's refusal of
 * deployments on and off.
 */
export function githubRoutes(ctx: { root: string; token: string; apiUrl: () => string }) {
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const app = {
    id: 424242,
    installationId: 99,
    privateKey: keys.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
  };
  const options = {
    token: ctx.token,
    deploymentsForbidden: false,
    apiUrl: ctx.apiUrl,
    app: {
      id: app.id, installationId: app.installationId, owner: "acme", publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString(),
      installedOn: (repo: string) => existsSync(join(ctx.root, ...repo.split("/").map((p, i) => (i === 1 ? `${p}.git` : p)))),
    },
  };
  const fake = githubFake(options);

  /** Checks whatever the server answers on the API against GitHub's description. */
  function check(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!url.pathname.startsWith("/api/v3/")) return;
    checkedResponse(res, req.method ?? "GET", url.pathname.slice("/api/v3".length), (p) => fake.problems.push(`answer drifted from GitHub's description: ${p}`));
  }

  /** True when the request was ours: the control routes, and every API request left unanswered. */
  function handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (url.pathname === "/_github" && req.method === "GET") {
      const state = {
        problems: fake.problems, minted: fake.minted.length, commitStatuses: fake.commitStatuses,
        deployments: fake.deployments.map((d) => ({ sha: d.sha, environment: d.environment, payload: d.payload, states: d.statuses.map((s) => s.state), descriptions: d.statuses.map((s) => s.description) })),
      };
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state)), true;
    }
    if (url.pathname !== "/_github/settings" && !url.pathname.startsWith("/api/v3/")) return false;
    let body = "";
    req.on("data", (c: Buffer) => { body += c.toString("utf8"); });
    req.on("end", () => {
      if (url.pathname === "/_github/settings") {
        options.deploymentsForbidden = (JSON.parse(body) as { deploymentsForbidden: boolean }).deploymentsForbidden;
        return void res.writeHead(204).end();
      }
      if (fake.handle(req, res, url.pathname.slice("/api/v3".length), url.searchParams, body)) return;
      fake.problems.push(`unexpected ${req.method} ${url.pathname}${url.search}`);
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }));
    });
    return true;
  }

  /** An installation token minted for `repo` is as good as the personal token, for the API and for git. */
  function authorizes(header: string, repo: string, scheme: "api" | "git"): boolean {
    const token = scheme === "api" ? header.replace(/^(token|bearer) /i, "") : Buffer.from(header.replace(/^Basic /, ""), "base64").toString("utf8").replace(/^x-access-token:/, "");
    return token.startsWith("ghs_") && fake.tokenCovers(token, repo);
  }

  return { app, check, handle, authorizes };
}
