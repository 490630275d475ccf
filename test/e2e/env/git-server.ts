import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gateRoutes } from "./github-gates-routes.ts";
import { githubRoutes } from "./github-routes.ts";

/**
 * A real git smart-HTTP server (git http-backend as CGI) and the one GitHub REST call ci-runner
 * makes (GET /api/v3/repos/{owner}/{repo}/commits/{ref}, sha media type, ETag and 304), both backed
 * by the same bare repositories under `root`. Private repositories need the token: Basic
 * x-access-token:<token> for git, `token <token>` for the API, as GitHub does.
 */
export interface GitServerOptions {
  readonly root: string;
  readonly token: string;
  /** owner/name of repositories that refuse anonymous access. */
  readonly privateRepos: Set<string>;
  /** Serve HTTPS with this certificate (Kaniko clones over HTTPS only); plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** A fixed loopback port (one the real node's pods can reach); any free one without. */
  readonly port?: number;
}

export interface GitServerStats {
  apiRequests: number;
  /** API answers other than 304: what GitHub would count against the rate limit. */
  apiCounted: number;
  gitRequests: number;
  /** Every request line seen, to check that no token travels in a URL. */
  urls: string[];
}

export async function startGitServer(options: GitServerOptions) {
  const stats: GitServerStats = { apiRequests: 0, apiCounted: 0, gitRequests: 0, urls: [] };
  const gates = gateRoutes({
    root: options.root,
    authorized: (req, repo) => authorized(req, repo, "api"),
    count: (counted) => { stats.apiRequests++; if (counted) stats.apiCounted++; },
  });
  // Deployments, statuses, the App (their own file); every API answer checked against GitHub's description.
  let apiUrl = "";
  const github = githubRoutes({ root: options.root, token: options.token, apiUrl: () => apiUrl });
  const handler: RequestListener = (req, res) => {
    stats.urls.push(req.url ?? "");
    const url = new URL(req.url ?? "/", "http://x");
    github.check(req, res, url);
    // The gates' reads (compare, check runs, statuses, a commit's message) live in their own file.
    if (gates.handle(req, res, url)) return;
    const api = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/commits\/(.+)$/.exec(url.pathname);
    if (api) return commitsApi(req, res, api[1] ?? "", api[2] ?? "", decodeURIComponent(api[3] ?? ""));
    if (github.handle(req, res, url)) return;
    if (url.pathname === "/_stats") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
    const git = /^\/([^/]+)\/([^/]+?)\.git(\/.*)$/.exec(url.pathname);
    if (git) return gitBackend(req, res, `${git[1]}/${git[2]}`, url);
    res.writeHead(404).end();
  };
  const server = options.tls
    ? createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler)
    : createHttpServer(handler);

  function authorized(req: IncomingMessage, repo: string, scheme: "api" | "git"): boolean {
    if (!options.privateRepos.has(repo)) return true;
    const header = req.headers.authorization ?? "";
    if (github.authorizes(header, repo, scheme)) return true;
    if (scheme === "api") return header === `token ${options.token}` || header === `Bearer ${options.token}`;
    return header === `Basic ${Buffer.from(`x-access-token:${options.token}`).toString("base64")}`;
  }

  function commitsApi(req: IncomingMessage, res: ServerResponse, owner: string, name: string, ref: string) {
    stats.apiRequests++;
    const repo = `${owner}/${name}`;
    const dir = join(options.root, owner, `${name}.git`);
    if (!existsSync(dir) || !authorized(req, repo, "api")) {
      stats.apiCounted++;
      // GitHub answers 404 for a private repository without access, 401 for a bad token.
      const status = req.headers.authorization && options.privateRepos.has(repo) ? 401 : 404;
      return void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ message: status === 401 ? "Bad credentials" : "Not Found", documentation_url: "https://docs.github.com/rest" }));
    }
    let sha: string;
    try {
      sha = execFileSync("git", ["rev-parse", "--verify", `refs/heads/${ref}^{commit}`], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      stats.apiCounted++;
      return void res.writeHead(422, { "content-type": "application/json" }).end(JSON.stringify({ message: `No commit found for SHA: ${ref}`, documentation_url: "https://docs.github.com/rest/commits/commits#get-a-commit" }));
    }
    const etag = `"${sha}"`;
    if (req.headers["if-none-match"] === etag) return void res.writeHead(304, { etag }).end();
    stats.apiCounted++;
    const sha1 = (req.headers.accept ?? "").includes("application/vnd.github.sha");
    res.writeHead(200, { etag, "content-type": sha1 ? "application/vnd.github.sha; charset=utf-8" : "application/json" });
    res.end(sha1 ? sha : JSON.stringify({ sha }));
  }

  function gitBackend(req: IncomingMessage, res: ServerResponse, repo: string, url: URL) {
    stats.gitRequests++;
    if (!authorized(req, repo, "git")) {
      return void res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end();
    }
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: options.root,
        GIT_HTTP_EXPORT_ALL: "1",
        GIT_CONFIG_NOSYSTEM: "1",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method,
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: req.headers["git-protocol"] as string } : {}),
        REMOTE_ADDR: "127.0.0.1",
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersSent = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const [key = "", ...rest] = line.split(":");
        const value = rest.join(":").trim();
        if (key.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      headersSent = true;
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => {
      if (!headersSent) res.writeHead(500);
      res.end();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? "https" : "http";
  apiUrl = `${scheme}://127.0.0.1:${port}/api/v3`;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    apiUrl,
    port,
    /** The GitHub App installed on every repository of this server: its id and private key. */
    app: github.app,
    stats,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
