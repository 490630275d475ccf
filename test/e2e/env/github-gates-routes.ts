import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";

/**
 * The GitHub REST reads ci-runner's gates make, backed by the same bare repositories as the git
 * server: a commit's message and author (Git data API), compare (real `git diff`), check runs and
 * commit statuses (set by a test through PUT /_gates/checks/{owner}/{repo}/{sha}). Each answer
 * carries only the fields ci-runner reads plus the ones that name the object. A request to a gate
 * route it does not know is a problem, listed at GET /_gates/problems, so a test can fail on it.
 */
export interface GateRoutesContext {
  readonly root: string;
  readonly authorized: (req: IncomingMessage, repo: string) => boolean;
  /** Counts an API request; `counted` when GitHub would charge it to the rate limit. */
  readonly count: (counted: boolean) => void;
}

interface CheckRun { name: string; status: string; conclusion: string | null; html_url?: string }
interface Status { context: string; state: string; target_url?: string }

export function gateRoutes(ctx: GateRoutesContext) {
  const checks = new Map<string, { checkRuns: CheckRun[]; statuses: Status[] }>();
  const problems: string[] = [];

  const json = (res: ServerResponse, status: number, body: unknown) => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const git = (dir: string, ...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });

  /** True when the request was one of ours (answered, or refused as a problem). */
  function handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const control = /^\/_gates\/checks\/([^/]+)\/([^/]+)\/([0-9a-f]{40})$/.exec(url.pathname);
    if (control && req.method === "PUT") {
      let body = "";
      req.on("data", (c: Buffer) => { body += c.toString("utf8"); });
      req.on("end", () => {
        const parsed = JSON.parse(body) as { checkRuns?: CheckRun[]; statuses?: Status[] };
        checks.set(`${control[1]}/${control[2]}@${control[3]}`, { checkRuns: parsed.checkRuns ?? [], statuses: parsed.statuses ?? [] });
        res.writeHead(204).end();
      });
      return true;
    }
    if (url.pathname === "/_gates/problems") return void json(res, 200, problems), true;

    const route = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/(git\/commits\/[^/]+|compare\/[^/]+|commits\/[^/]+\/(?:check-runs|status))$/.exec(url.pathname);
    if (!route) return false;
    ctx.count(true);
    const [, owner = "", name = "", rest = ""] = route;
    const repo = `${owner}/${name}`;
    const dir = join(ctx.root, owner, `${name}.git`);
    if (req.method !== "GET") return problem(res, `${req.method} ${url.pathname}`);
    if (!existsSync(dir) || !ctx.authorized(req, repo)) return void json(res, 404, { message: "Not Found" }), true;
    try {
      let m: RegExpExecArray | null;
      if ((m = /^git\/commits\/([0-9a-f]{40})$/.exec(rest))) {
        const [authorName, authorEmail, ...message] = git(dir, "log", "-1", "--format=%an%n%ae%n%B", m[1] ?? "").split("\n");
        return void json(res, 200, { sha: m[1], message: message.join("\n").replace(/\n+$/, ""), author: { name: authorName, email: authorEmail, date: new Date().toISOString() } }), true;
      }
      if ((m = /^compare\/([0-9a-f]{40})\.\.\.([0-9a-f]{40})$/.exec(rest))) {
        if (url.searchParams.get("per_page") === null) return problem(res, "compare without a page size lists only some files");
        return void json(res, 200, compare(dir, m[1] ?? "", m[2] ?? "")), true;
      }
      if ((m = /^commits\/([0-9a-f]{40})\/check-runs$/.exec(rest))) {
        const runs = checks.get(`${repo}@${m[1]}`)?.checkRuns ?? [];
        return void json(res, 200, { total_count: runs.length, check_runs: runs.map((r, i) => ({ id: i + 1, head_sha: m?.[1], details_url: null, html_url: null, ...r })) }), true;
      }
      if ((m = /^commits\/([0-9a-f]{40})\/status$/.exec(rest))) {
        const statuses = checks.get(`${repo}@${m[1]}`)?.statuses ?? [];
        const page = Number(url.searchParams.get("page") ?? "1");
        const size = Number(url.searchParams.get("per_page") ?? "30");
        return void json(res, 200, { state: "pending", sha: m[1], total_count: statuses.length, statuses: statuses.slice((page - 1) * size, page * size).map((s) => ({ target_url: null, ...s })) }), true;
      }
    } catch {
      return void json(res, 404, { message: "No commit found" }), true;
    }
    return problem(res, `GET ${url.pathname}`);
  }

  function problem(res: ServerResponse, what: string): true {
    problems.push(what);
    json(res, 599, { message: `unexpected: ${what}` });
    return true;
  }

  return { handle, problems };
}

function compare(dir: string, base: string, head: string) {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const [behind = "0", ahead = "0"] = git("rev-list", "--left-right", "--count", `${base}...${head}`).split(/\s+/);
  const status = ahead === "0" && behind === "0" ? "identical" : behind === "0" ? "ahead" : ahead === "0" ? "behind" : "diverged";
  const files = git("diff", "--name-status", "-M", `${base}...${head}`).split("\n").filter(Boolean).map((line) => {
    const [kind = "", first = "", second] = line.split("\t");
    return kind.startsWith("R") ? { filename: second, previous_filename: first, status: "renamed" } : { filename: first, status: kind === "A" ? "added" : kind === "D" ? "removed" : "modified" };
  });
  return { status, ahead_by: Number(ahead), behind_by: Number(behind), total_commits: Number(ahead), files };
}
