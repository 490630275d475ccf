import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { githubRepo } from "../../../src/adapters/github/octokit.ts";
import { GitHubGates } from "../../../src/adapters/github/gates.ts";
import { ConfigError, TransientError } from "../../../src/errors.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const server = strictServerPerTest();

beforeEach(() => {
  vi.stubGlobal("fetch", () => { throw new Error("the global fetch was used instead of the node:https transport"); });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const gates = (token?: string) => new GitHubGates(githubRepo({ baseUrl: server.url, owner: "acme", repo: "shop", auth: { token: async () => token }, log: testLog(), retries: 0 }));
const run = (name: string, status: string, conclusion: string | null, id = 1) => ({ id, name, status, conclusion, html_url: `https://github.example/runs/${id}`, details_url: null, app: { id: 15368, slug: "github-actions" } });

describe("GitHub gate reads", () => {
  it("a commit's message and author come from the Git data API", async () => {
    server.expect({
      method: "GET", path: `/repos/acme/shop/git/commits/${A}`,
      check: (r) => expect(r.headers.authorization).toBe("token tkn_gates"),
      reply: { status: 200, body: { sha: A, message: "docs [skip ci]", author: { name: "renovate[bot]", email: "bot@example.com", date: "2026-11-21T12:00:00Z" } } },
    });
    expect(await gates("tkn_gates").commit(A)).toEqual({ message: "docs [skip ci]", authorName: "renovate[bot]", authorEmail: "bot@example.com" });
    server.verify();
  });

  it("compare asks with a page size, so every file is on the first page; a rename counts both paths", async () => {
    server.expect({
      method: "GET", path: `/repos/acme/shop/compare/${A}...${B}?per_page=1`,
      reply: { status: 200, body: { status: "ahead", files: [{ filename: "chart/values.yaml" }, { filename: "lib/x.ts", previous_filename: "src/x.ts" }] } },
    });
    expect(await gates().changes(A, B)).toEqual({ complete: true, base: A, files: ["chart/values.yaml", "src/x.ts", "lib/x.ts"] });
    server.verify();
  });

  it.each([
    ["a diverged history", { status: 200, body: { status: "diverged", files: [] } }, /does not descend from the deployed commit \(diverged\)/],
    ["300 files (perhaps cut short)", { status: 200, body: { status: "ahead", files: Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}` })) } }, /300 files changed, at or over GitHub's compare limit/],
    ["a base GitHub no longer knows", { status: 404, body: { message: "Not Found" } }, /could not compare aaaaaaaaaaaa...bbbbbbbbbbbb \(HTTP 404\)/],
    ["a diff too large to generate", { status: 422, body: { message: "this diff is taking too long to generate" } }, /HTTP 422/],
  ])("compare with %s is incomplete, so the head is built", async (_name, reply, why) => {
    server.expect({ method: "GET", path: `/repos/acme/shop/compare/${A}...${B}?per_page=1`, reply });
    const result = await gates().changes(A, B);
    expect(result).toMatchObject({ complete: false, base: A });
    expect((result as { why: string }).why).toMatch(why);
    server.verify();
  });

  it("check runs: the latest of each, every page, mapped to green, pending or red with their link", async () => {
    server.expect(
      {
        method: "GET", path: `/repos/acme/shop/commits/${A}/check-runs?filter=latest&per_page=100`,
        reply: {
          status: 200, headers: { link: `<${server.url}/repos/acme/shop/commits/${A}/check-runs?filter=latest&per_page=100&page=2>; rel="next"` },
          body: { total_count: 4, check_runs: [run("test", "completed", "success", 1), run("lint", "completed", "failure", 2), run("e2e", "in_progress", null, 3)] },
        },
      },
      { method: "GET", path: `/repos/acme/shop/commits/${A}/check-runs?filter=latest&per_page=100&page=2`, reply: { status: 200, body: { total_count: 4, check_runs: [run("docs", "completed", "skipped", 4)] } } },
    );
    expect(await gates().checkRuns(A)).toEqual([
      { name: "test", state: "success", url: "https://github.example/runs/1", reporter: "github-actions" },
      { name: "lint", state: "failure", url: "https://github.example/runs/2", reporter: "github-actions" },
      { name: "e2e", state: "pending", url: "https://github.example/runs/3", reporter: "github-actions" },
      { name: "docs", state: "success", url: "https://github.example/runs/4", reporter: "github-actions" },
    ]);
    server.verify();
  });

  it("commit statuses: the combined status, page by page until total_count", async () => {
    const status = (context: string, state: string) => ({ context, state, target_url: `https://ci.example/${context}`, creator: { login: "jenkins-bot" } });
    server.expect(
      { method: "GET", path: `/repos/acme/shop/commits/${A}/status?per_page=100&page=1`, reply: { status: 200, body: { state: "pending", total_count: 3, statuses: [status("ci/a", "success"), status("ci/b", "error")] } } },
      { method: "GET", path: `/repos/acme/shop/commits/${A}/status?per_page=100&page=2`, reply: { status: 200, body: { state: "pending", total_count: 3, statuses: [status("ci/c", "pending")] } } },
    );
    expect((await gates().statuses(A)).map((s) => `${s.name}=${s.state}@${s.reporter}`)).toEqual(["ci/a=success@jenkins-bot", "ci/b=failure@jenkins-bot", "ci/c=pending@jenkins-bot"]);
    server.verify();
  });

  it("errors are classified by status and headers, never by text", async () => {
    server.expect(
      { method: "GET", path: `/repos/acme/shop/commits/${A}/check-runs?filter=latest&per_page=100`, reply: { status: 403, body: { message: "Resource not accessible by integration" } } },
      { method: "GET", path: `/repos/acme/shop/git/commits/${A}`, reply: { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600) }, body: { message: "API rate limit exceeded" } } },
      { method: "GET", path: `/repos/acme/shop/commits/${A}/status?per_page=100&page=1`, reply: { status: 200, body: { unexpected: true } } },
    );
    const refused = await gates("tkn_x").checkRuns(A).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).remedy).toMatch(/Checks and Commit statuses read-only/);
    // The throttling plugin does not wait this long in a tick: the next tick retries.
    const limited = await gates().commit(A).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(TransientError);
    const odd = await gates().statuses(A).catch((e: unknown) => e);
    expect(odd).toBeInstanceOf(TransientError);
    expect((odd as Error).message).toMatch(/unexpected form/);
    server.verify();
  });
});
