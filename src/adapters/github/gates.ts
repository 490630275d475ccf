import { z } from "zod";
import { TransientError } from "../../errors.ts";
import type { GateSource } from "../../reconcile/ports.ts";
import type { ChangeSet, Check, CommitInfo } from "../../reconcile/types.ts";
import { credentialName, githubError, type GitHubRepo, statusOf } from "./octokit.ts";

/**
 * GitHub's compare lists at most this many files (all on the first page when a page size is
 * given); a list this long may have been cut short, so the head is built.
 */
export const COMPARE_FILE_LIMIT = 300;

const GitCommit = z.object({ message: z.string(), author: z.object({ name: z.string(), email: z.string() }) });
const Compare = z.object({
  status: z.enum(["diverged", "ahead", "behind", "identical"]),
  files: z.array(z.object({ filename: z.string(), previous_filename: z.string().optional() })).optional(),
});
const CheckRun = z.object({
  name: z.string(),
  app: z.object({ slug: z.string().optional() }).nullable().optional(),
  status: z.string(),
  conclusion: z.string().nullable().optional(),
  html_url: z.string().nullable().optional(),
  details_url: z.string().nullable().optional(),
});
const CombinedStatus = z.object({
  total_count: z.number(),
  statuses: z.array(z.object({ context: z.string(), state: z.string(), target_url: z.string().nullable().optional(), creator: z.object({ login: z.string() }).nullable().optional() })),
});

const GREEN_CONCLUSIONS = new Set(["success", "neutral", "skipped"]);

/**
 * What the gates ask GitHub: a commit's message and author (Git data API, small and immutable),
 * the files changed between two commits (compare), check runs and commit statuses. Each is asked
 * only when its gate is configured; none is on the idle tick's path.
 */
export class GitHubGates implements GateSource {
  readonly #repo: GitHubRepo;

  constructor(repo: GitHubRepo) {
    this.#repo = repo;
  }

  async commit(sha: string): Promise<CommitInfo> {
    const { owner, repo } = this.#repo;
    const data = await this.#get(`the message of commit ${sha.slice(0, 12)}`, "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { owner, repo, commit_sha: sha });
    const parsed = this.#parse(GitCommit, data, `commit ${sha.slice(0, 12)}`);
    return { message: parsed.message, authorName: parsed.author.name, authorEmail: parsed.author.email };
  }

  async changes(base: string, head: string): Promise<ChangeSet> {
    const { owner, repo } = this.#repo;
    const range = `${base.slice(0, 12)}...${head.slice(0, 12)}`;
    let data: unknown;
    try {
      // A page size makes GitHub list every changed file on the first page (up to its limit);
      // the later pages hold only commits, which the path filter does not need.
      data = (await this.#repo.octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", { owner, repo, basehead: `${base}...${head}`, per_page: 1 })).data;
    } catch (error) {
      const status = statusOf(error);
      // 404: the base is gone (a force push and GC); 422/406 and 5xx after retries: a diff too large
      // to generate. None of them is worth a stuck head: build it.
      if (status === 404 || status === 422 || status === 406 || (status !== undefined && status >= 500)) {
        return { complete: false, base, why: `GitHub could not compare ${range} (HTTP ${status})` };
      }
      throw await this.#translate(error, `comparing ${range}`);
    }
    const parsed = this.#parse(Compare, data, `the comparison ${range}`);
    if (parsed.status !== "ahead") return { complete: false, base, why: `the head does not descend from the deployed commit (${parsed.status})` };
    const files = parsed.files ?? [];
    if (files.length >= COMPARE_FILE_LIMIT) return { complete: false, base, why: `${files.length} files changed, at or over GitHub's compare limit of ${COMPARE_FILE_LIMIT}` };
    // A renamed file changed both its old and its new path.
    return { complete: true, base, files: files.flatMap((f) => (f.previous_filename ? [f.previous_filename, f.filename] : [f.filename])) };
  }

  async checkRuns(sha: string): Promise<Check[]> {
    const { owner, repo } = this.#repo;
    const where = `the check runs of ${sha.slice(0, 12)}`;
    let runs: unknown[];
    try {
      // filter=latest: a re-run replaces the run it repeats. More than 100 runs take more pages.
      runs = await this.#repo.octokit.paginate("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", { owner, repo, ref: sha, filter: "latest", per_page: 100 });
    } catch (error) {
      throw await this.#translate(error, `reading ${where}`);
    }
    return this.#parse(z.array(CheckRun), runs, where).map((r) => ({
      name: r.name,
      state: r.status !== "completed" ? "pending" : GREEN_CONCLUSIONS.has(r.conclusion ?? "") ? "success" : "failure",
      url: r.html_url ?? r.details_url ?? undefined,
      reporter: r.app?.slug ?? undefined,
    }));
  }

  async statuses(sha: string): Promise<Check[]> {
    const { owner, repo } = this.#repo;
    const where = `the commit statuses of ${sha.slice(0, 12)}`;
    const out: Check[] = [];
    // The combined status holds the latest status of each context, 100 a page.
    for (let page = 1; ; page++) {
      const data = await this.#get(where, "GET /repos/{owner}/{repo}/commits/{ref}/status", { owner, repo, ref: sha, per_page: 100, page });
      const parsed = this.#parse(CombinedStatus, data, where);
      for (const s of parsed.statuses) {
        out.push({ name: s.context, state: s.state === "success" ? "success" : s.state === "pending" ? "pending" : "failure", url: s.target_url ?? undefined, reporter: s.creator?.login ?? undefined });
      }
      if (parsed.statuses.length === 0 || out.length >= parsed.total_count) return out;
    }
  }

  async #get(what: string, route: string, params: Record<string, unknown>): Promise<unknown> {
    try {
      return (await this.#repo.octokit.request(route, params)).data;
    } catch (error) {
      throw await this.#translate(error, `reading ${what}`);
    }
  }

  #parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
    const parsed = schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const { owner, repo, baseUrl } = this.#repo;
    throw new TransientError(`GitHub answered ${what} of ${owner}/${repo} at ${baseUrl} in an unexpected form (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`, "the next tick asks again");
  }

  async #translate(error: unknown, doing: string): Promise<Error> {
    const { owner, repo, baseUrl } = this.#repo;
    const where = `${doing} of ${owner}/${repo} at ${baseUrl}`;
    const credential = await credentialName(this.#repo.auth);
    const refused = {
      message: `GitHub refused ${credential} access ${where} (${statusOf(error)})`,
      remedy: "give the token read access to contents, checks and commit statuses (fine-grained: Contents, Checks and Commit statuses read-only; classic: repo), or turn the gate off",
    };
    return githubError(error, {
      what: where,
      unauthorized: { message: `GitHub rejected GIT_TOKEN ${where} (401)`, remedy: "create a new token and store it in the token Secret" },
      refused,
      notFound: statusOf(error) === 404 ? refused : undefined,
    });
  }
}
