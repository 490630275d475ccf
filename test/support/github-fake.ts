import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { checkedResponse } from "./github-openapi.ts";

/**
 * The GitHub REST API parts ci-runner writes to when it reports and authenticates as an App:
 * deployments and their statuses, commit statuses, an App's installation and its tokens. Strict:
 * a request for anything else is a problem that fails the test, and every answer is checked
 * against GitHub's OpenAPI description before it goes out.
 */
export interface GitHubFakeOptions {
  /** The personal token that may read and write everything (unless `deploymentsForbidden`). */
  readonly token: string;
  /** Answer the deployments endpoints 403 like GitHub does for a token without Deployments: write. */
  deploymentsForbidden?: boolean;
  /** A GitHub App: JWTs must carry its signature; its one installation covers `repos`. */
  readonly app?: { readonly id: number; readonly publicKeyPem: string; readonly installationId: number; readonly owner: string; readonly installedOn: (repo: string) => boolean };
  /** Base URL the answers' links point at, e.g. http://127.0.0.1:PORT/api/v3. */
  readonly apiUrl: () => string;
}

export interface FakeDeployment {
  readonly id: number;
  readonly repo: string;
  readonly sha: string;
  readonly environment: string;
  readonly payload: unknown;
  readonly description: string | null;
  readonly createdAt: string;
  readonly statuses: { id: number; state: string; description: string; environmentUrl?: string; createdAt: string }[];
}

export interface MintedToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly repos: readonly string[];
  /** What the mint asked for; without `permissions` in the request, the installation's own. */
  readonly permissions: Readonly<Record<string, string>>;
}

/** What the fake App's installation may do. */
const INSTALLATION_PERMISSIONS = { contents: "read", deployments: "write", statuses: "write", metadata: "read" };

const USER = (api: string) => ({
  login: "ci-runner-bot", id: 4242, node_id: "MDQ6VXNlcjQyNDI=", avatar_url: "https://avatars.githubusercontent.com/u/4242?v=4", gravatar_id: "",
  url: `${api}/users/ci-runner-bot`, html_url: "https://github.com/ci-runner-bot", followers_url: `${api}/users/ci-runner-bot/followers`,
  following_url: `${api}/users/ci-runner-bot/following{/other_user}`, gists_url: `${api}/users/ci-runner-bot/gists{/gist_id}`,
  starred_url: `${api}/users/ci-runner-bot/starred{/owner}{/repo}`, subscriptions_url: `${api}/users/ci-runner-bot/subscriptions`,
  organizations_url: `${api}/users/ci-runner-bot/orgs`, repos_url: `${api}/users/ci-runner-bot/repos`, events_url: `${api}/users/ci-runner-bot/events{/privacy}`,
  received_events_url: `${api}/users/ci-runner-bot/received_events`, type: "User", site_admin: false,
});

export function githubFake(options: GitHubFakeOptions) {
  const problems: string[] = [];
  const deployments: FakeDeployment[] = [];
  const commitStatuses: { repo: string; sha: string; state: string; context: string; description: string | null; targetUrl: string | null }[] = [];
  const minted: MintedToken[] = [];
  const jwtsSeen: string[] = [];
  let nextId = 1;
  const publicKey: KeyObject | undefined = options.app ? createPublicKey(options.app.publicKeyPem) : undefined;
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

  /** A token that may act on `repo`: the personal token, or an unexpired installation token minted for it. */
  function tokenCovers(token: string, repo: string): boolean {
    if (token === options.token) return true;
    return minted.some((m) => m.token === token && m.expiresAt > Date.now() && m.repos.includes(repo));
  }

  function bearer(req: IncomingMessage): string {
    return (req.headers.authorization ?? "").replace(/^(token|bearer) /i, "");
  }

  /** The App's JWT: RS256 over header.payload with the App's key, issued by the App, at most 10 minutes long. */
  function jwtProblem(req: IncomingMessage): string | undefined {
    if (!options.app || !publicKey) return "no App is registered";
    const jwt = (req.headers.authorization ?? "").replace(/^bearer /i, "");
    const [header = "", payload = "", signature = ""] = jwt.split(".");
    const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
    try {
      if (decode(header).alg !== "RS256") return "JWT is not RS256";
      if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, "base64url"))) return "JWT signature does not verify with the App's public key";
      const claims = decode(payload);
      const seconds = Date.now() / 1000;
      if (String(claims.iss) !== String(options.app.id)) return `JWT issuer ${String(claims.iss)} is not the App ${options.app.id}`;
      if (typeof claims.exp !== "number" || claims.exp < seconds) return "JWT expired";
      if (typeof claims.iat !== "number" || claims.iat > seconds + 60 || claims.exp - claims.iat > 600 + 60) return "JWT issued in the future or for longer than 10 minutes";
    } catch {
      return "JWT is malformed";
    }
    jwtsSeen.push(jwt);
    return undefined;
  }

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(body === undefined ? "" : JSON.stringify(body));
  }

  function error(res: ServerResponse, status: number, message: string) {
    send(res, status, { message, documentation_url: "https://docs.github.com/rest", status: String(status) });
  }

  function deploymentJson(d: FakeDeployment) {
    const api = options.apiUrl();
    return {
      url: `${api}/repos/${d.repo}/deployments/${d.id}`, id: d.id, node_id: `DE_${d.id}`, sha: d.sha, ref: d.sha, task: "deploy", payload: d.payload,
      original_environment: d.environment, environment: d.environment, description: d.description, creator: USER(api), created_at: d.createdAt, updated_at: d.createdAt,
      statuses_url: `${api}/repos/${d.repo}/deployments/${d.id}/statuses`, repository_url: `${api}/repos/${d.repo}`,
      transient_environment: false, production_environment: false, performed_via_github_app: null,
    };
  }

  function statusJson(d: FakeDeployment, s: FakeDeployment["statuses"][number]) {
    const api = options.apiUrl();
    return {
      url: `${api}/repos/${d.repo}/deployments/${d.id}/statuses/${s.id}`, id: s.id, node_id: `DES_${s.id}`, state: s.state, creator: USER(api),
      description: s.description, environment: d.environment, target_url: "", log_url: "", environment_url: s.environmentUrl ?? "",
      created_at: s.createdAt, updated_at: s.createdAt, deployment_url: `${api}/repos/${d.repo}/deployments/${d.id}`, repository_url: `${api}/repos/${d.repo}`,
      performed_via_github_app: null,
    };
  }

  function installationJson() {
    const api = options.apiUrl();
    const app = options.app!;
    return {
      id: app.installationId, account: { ...USER(api), login: app.owner, type: "Organization" }, repository_selection: "selected",
      access_tokens_url: `${api}/app/installations/${app.installationId}/access_tokens`, repositories_url: `${api}/installation/repositories`,
      html_url: `https://github.com/organizations/${app.owner}/settings/installations/${app.installationId}`, app_id: app.id, app_slug: "ci-runner-e2e",
      target_id: 9000, target_type: "Organization", permissions: { contents: "read", deployments: "write", statuses: "write", metadata: "read" },
      events: [], created_at: "2026-11-01T00:00:00Z", updated_at: "2026-11-01T00:00:00Z", single_file_name: null, suspended_by: null, suspended_at: null,
    };
  }

  /** Handles one API request (path without the /api/v3 prefix); false when it is none of ours. */
  function handle(req: IncomingMessage, raw: ServerResponse, path: string, query: URLSearchParams, body: string): boolean {
    const method = req.method ?? "GET";
    const res = checkedResponse(raw, method, path, (p) => problems.push(`answer drifted from GitHub's description: ${p}`));
    const json = () => (body ? JSON.parse(body) as Record<string, unknown> : {});
    let m: RegExpExecArray | null;
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(path)) && method === "GET") {
      const why = jwtProblem(req);
      if (why) { problems.push(`GET ${path}: ${why}`); return error(res, 401, "A JSON web token could not be decoded"), true; }
      if (!options.app?.installedOn(`${m[1]}/${m[2]}`)) return error(res, 404, "Not Found"), true;
      return send(res, 200, installationJson()), true;
    }
    if ((m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path)) && method === "POST") {
      const why = jwtProblem(req);
      if (why) { problems.push(`POST ${path}: ${why}`); return error(res, 401, "A JSON web token could not be decoded"), true; }
      if (Number(m[1]) !== options.app?.installationId) return error(res, 404, "Not Found"), true;
      const names = (json().repositories as string[] | undefined) ?? [];
      const repos = names.map((n) => `${options.app!.owner}/${n}`);
      // ci-runner always narrows its token to the one repository it follows.
      if (repos.length === 0) problems.push(`POST ${path}: a token for every repository of the installation was asked for`);
      if (repos.some((r) => !options.app!.installedOn(r))) return error(res, 422, "There is at least one repository that does not exist or is not accessible to the parent installation."), true;
      const asked = json().permissions as Record<string, string> | undefined;
      const beyond = Object.entries(asked ?? {}).filter(([k, v]) => !(k in INSTALLATION_PERMISSIONS) || (v === "write" && INSTALLATION_PERMISSIONS[k as keyof typeof INSTALLATION_PERMISSIONS] !== "write"));
      if (beyond.length > 0) return error(res, 422, "The permissions requested are not granted to this installation."), true;
      const permissions = asked ?? INSTALLATION_PERMISSIONS;
      const token = `ghs_${randomBytes(18).toString("base64url")}`;
      const expiresAt = Date.now() + 3600_000;
      minted.push({ token, expiresAt, repos, permissions });
      return send(res, 201, { token, expires_at: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, "Z"), permissions, repository_selection: "selected" }), true;
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/(deployments(?:\/(\d+)\/statuses)?|statuses\/([0-9a-f]{40}))$/.exec(path);
    if (!m) return false;
    const repo = `${m[1]}/${m[2]}`;
    if (!tokenCovers(bearer(req), repo)) return error(res, req.headers.authorization ? 401 : 404, req.headers.authorization ? "Bad credentials" : "Not Found"), true;
    // A narrowed installation token writes only what it was minted for.
    const narrowed = minted.find((t) => t.token === bearer(req))?.permissions;
    const needs = m[5] !== undefined ? "statuses" : "deployments";
    if (method === "POST" && narrowed !== undefined && narrowed[needs] !== "write") return error(res, 403, "Resource not accessible by integration"), true;
    if (m[5] !== undefined && method === "POST") {
      const b = json();
      const status = { repo, sha: m[5], state: String(b.state), context: String(b.context ?? "default"), description: (b.description as string | undefined) ?? null, targetUrl: (b.target_url as string | undefined) ?? null };
      if (!["error", "failure", "pending", "success"].includes(status.state)) return error(res, 422, "Validation Failed"), true;
      commitStatuses.push(status);
      const api = options.apiUrl();
      return send(res, 201, {
        url: `${api}/repos/${repo}/statuses/${m[5]}`, avatar_url: null, id: nextId++, node_id: `SC_${nextId}`, state: status.state, description: status.description,
        target_url: status.targetUrl, context: status.context, created_at: now(), updated_at: now(), creator: USER(api),
      }), true;
    }
    if (m[5] === undefined && options.deploymentsForbidden) return error(res, 403, "Resource not accessible by personal access token"), true;
    if (m[4] === undefined && m[5] === undefined && method === "GET") {
      const list = deployments.filter((d) => d.repo === repo && (!query.get("sha") || d.sha === query.get("sha")) && (!query.get("environment") || d.environment === query.get("environment")));
      return send(res, 200, list.slice().reverse().slice(0, Number(query.get("per_page") ?? 30)).map(deploymentJson)), true;
    }
    if (m[4] === undefined && m[5] === undefined && method === "POST") {
      const b = json();
      if (typeof b.ref !== "string" || typeof b.environment !== "string") return error(res, 422, "Validation Failed"), true;
      const d: FakeDeployment = { id: nextId++, repo, sha: b.ref, environment: b.environment, payload: b.payload ?? {}, description: (b.description as string | undefined) ?? null, createdAt: now(), statuses: [] };
      deployments.push(d);
      return send(res, 201, deploymentJson(d)), true;
    }
    const deployment = deployments.find((d) => d.repo === repo && d.id === Number(m![4]));
    if (!deployment) return error(res, 404, "Not Found"), true;
    if (method === "GET") return send(res, 200, deployment.statuses.slice().reverse().slice(0, Number(query.get("per_page") ?? 30)).map((s) => statusJson(deployment, s))), true;
    if (method === "POST") {
      const b = json();
      const state = String(b.state);
      const description = String(b.description ?? "");
      if (!["error", "failure", "inactive", "in_progress", "queued", "pending", "success"].includes(state) || description.length > 140) return error(res, 422, "Validation Failed"), true;
      const s = { id: nextId++, state, description, ...(typeof b.environment_url === "string" ? { environmentUrl: b.environment_url } : {}), createdAt: now() };
      deployment.statuses.push(s);
      return send(res, 201, statusJson(deployment, s)), true;
    }
    return false;
  }

  return {
    handle, tokenCovers, problems, deployments, commitStatuses, minted, jwtsSeen,
    /** For tests: what each deployment went through, oldest first. */
    summary: () => deployments.map((d) => ({ sha: d.sha, environment: d.environment, payload: d.payload, states: d.statuses.map((s) => s.state) })),
  };
}

export type GitHubFake = ReturnType<typeof githubFake>;

/** A standalone loopback server around the fake (adapter tests); the e2e git server mounts it itself. */
export async function githubFakeServer(options: Omit<GitHubFakeOptions, "apiUrl">) {
  const { createServer } = await import("node:http");
  let url = "";
  const fake = githubFake({ ...options, apiUrl: () => url });
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => { body += c.toString("utf8"); });
    req.on("end", () => {
      const target = new URL(req.url ?? "/", "http://x");
      if (!fake.handle(req, res, target.pathname, target.searchParams, body)) {
        fake.problems.push(`unexpected ${req.method} ${req.url}`);
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, fake, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}
