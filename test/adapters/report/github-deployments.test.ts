import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";
import { githubClient, githubMessage } from "../../../src/adapters/github/octokit.ts";
import { GitHubDeployments, statusFor } from "../../../src/adapters/report/github-deployments.ts";
import { checkResponse } from "../../support/github-openapi.ts";
import { githubFakeServer } from "../../support/github-fake.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const TOKEN = "tkn_deployments0123456789";
const require = createRequire(import.meta.url);
let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
});

async function setUp(options: { deploymentsForbidden?: boolean } = {}) {
  const server = await githubFakeServer({ token: TOKEN, ...options });
  close = server.close;
  const lines: string[] = [];
  const log = testLog(lines);
  const make = () => new GitHubDeployments({
    octokit: githubClient({ baseUrl: server.url, auth: { token: async () => TOKEN }, log, retries: 0, throttle: false }),
    owner: "acme", repo: "shop", release: "shop", environment: "prod/shop", environmentUrl: "https://shop.example.com", log,
  });
  return { fake: server.fake, lines, make };
}

describe("GitHub Deployments", () => {
  it("one Deployment per attempt: in_progress while it builds and deploys, then success; the one it replaces becomes inactive", async () => {
    const { fake, make } = await setUp();
    const reporter = make();
    await reporter.report({ kind: "build-started", sha: A, attempt: 1, job: "build-shop-aaaaaaaaaaaa-1" });
    await reporter.report({ kind: "build-succeeded", sha: A, attempt: 1, digest: `sha256:${"1".repeat(64)}`, seconds: 30 });
    await reporter.report({ kind: "deploy-started", sha: A, attempt: 1, digest: `sha256:${"1".repeat(64)}` });
    await reporter.report({ kind: "deployed", sha: A, attempt: 1, revision: 1, digest: `sha256:${"1".repeat(64)}`, seconds: 12 });
    // The next commit's image already existed: its first news is the deploy.
    await reporter.report({ kind: "deploy-started", sha: B, attempt: 1, digest: undefined });
    await reporter.report({ kind: "deployed", sha: B, attempt: 1, revision: 2, digest: undefined, seconds: 8 });
    expect(fake.summary()).toEqual([
      { sha: A, environment: "prod/shop", payload: { ci_runner: { release: "shop", attempt: 1 } }, states: ["in_progress", "in_progress", "in_progress", "success", "inactive"] },
      { sha: B, environment: "prod/shop", payload: { ci_runner: { release: "shop", attempt: 1 } }, states: ["in_progress", "success"] },
    ]);
    expect(fake.deployments[1]?.statuses[1]).toMatchObject({ description: "Deployed revision 2", environmentUrl: "https://shop.example.com" });
    expect(fake.problems).toEqual([]);
  });

  it("a run killed after creating the Deployment: the next process finds it by its payload instead of creating another", async () => {
    const { fake, make } = await setUp();
    await make().report({ kind: "build-started", sha: A, attempt: 2, job: "j" });
    await make().report({ kind: "attempt-failed", sha: A, attempt: 2, phase: "build", message: "build pod exited with code 1", setAside: false, rolledBack: false });
    expect(fake.summary()).toEqual([{ sha: A, environment: "prod/shop", payload: { ci_runner: { release: "shop", attempt: 2 } }, states: ["in_progress", "failure"] }]);
    expect(fake.deployments[0]?.statuses[1]?.description).toBe("Build failed: build pod exited with code 1");
    expect(fake.problems).toEqual([]);
  });

  it("a rolled-back deploy's failure says so, with the evidence summary, within GitHub's 140 characters", async () => {
    const { fake, make } = await setUp();
    const evidence = { summary: `pod shop-1: app CrashLoopBackOff, exit code 3; last log: ${"x".repeat(200)}`, pods: [] };
    await make().report({ kind: "attempt-failed", sha: A, attempt: 3, phase: "deploy", message: "helm upgrade failed", setAside: true, rolledBack: true, evidence });
    const description = fake.deployments[0]?.statuses[0]?.description ?? "";
    expect(description).toMatch(/^Set aside\. Rolled back: pod shop-1: app CrashLoopBackOff, exit code 3; last log: x+…$/);
    expect(description.length).toBe(140);
    expect(fake.problems).toEqual([]);
  });

  it("when the token may not create deployments: commit statuses with one context per release, said once in the log", async () => {
    const { fake, make, lines } = await setUp({ deploymentsForbidden: true });
    const reporter = make();
    await reporter.report({ kind: "build-started", sha: A, attempt: 1, job: "j" });
    await reporter.report({ kind: "deployed", sha: A, attempt: 1, revision: 1, digest: undefined, seconds: 3 });
    expect(fake.deployments).toEqual([]);
    expect(fake.commitStatuses).toEqual([
      { repo: "acme/shop", sha: A, state: "pending", context: "ci-runner/shop", description: "Building the image (attempt 1)", targetUrl: null },
      { repo: "acme/shop", sha: A, state: "success", context: "ci-runner/shop", description: "Deployed revision 1", targetUrl: "https://shop.example.com" },
    ]);
    const said = lines.filter((l) => l.includes("may not create deployments"));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0] ?? "{}").error).toBe("HTTP 403: Resource not accessible by personal access token");
    expect(fake.problems).toEqual([]);
  });

  it("statusFor: lease contention sets no status", () => {
    expect(statusFor({ kind: "lease-contention", holder: "h", expiresAt: "t" })).toBeUndefined();
  });
});

describe("against GitHub's own recorded answers (@octokit/fixtures)", () => {
  const server = strictServerPerTest();
  const fixture = (name: string) => require(`@octokit/fixtures/scenarios/api.github.com/${name}/normalized-fixture.json`) as {
    method: string; path: string; status: number; response: unknown; headers: Record<string, string>;
  }[];

  it("create-status: after deployments are refused, the fallback's request matches the recorded one and takes GitHub's recorded 201", async () => {
    const [recorded] = fixture("create-status");
    if (!recorded) throw new Error("fixture missing");
    const sha = recorded.path.split("/").at(-1) ?? "";
    server.expect(
      {
        method: "GET", path: `/repos/octokit-fixture-org/create-status/deployments?sha=${sha}&environment=e&per_page=100`,
        reply: { status: 403, body: { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/deployments/deployments#list-deployments" } },
      },
      {
        method: "POST", path: recorded.path,
        check: (r) => expect(JSON.parse(r.body)).toEqual({ context: "ci-runner/shop", state: "failure", description: "Deploy failed: helm upgrade failed" }),
        reply: { status: recorded.status, body: recorded.response, headers: { "content-type": recorded.headers["content-type"] ?? "application/json" } },
      },
    );
    const log = testLog();
    const reporter = new GitHubDeployments({
      octokit: githubClient({ baseUrl: server.url, auth: { token: async () => "0000000000000000000000000000000000000001" }, log, retries: 0, throttle: false }),
      owner: "octokit-fixture-org", repo: "create-status", release: "shop", environment: "e", environmentUrl: undefined, log,
    });
    await reporter.report({ kind: "attempt-failed", sha, attempt: 1, phase: "deploy", message: "helm upgrade failed", setAside: false, rolledBack: false });
    server.verify();
    // The recorded answer is also what GitHub's description says: the fake is checked the same way.
    expect(checkResponse("POST", recorded.path, recorded.status, "application/json", JSON.stringify(recorded.response))).toEqual([]);
  });

  it("errors: GitHub's recorded 422 Validation Failed becomes one line with its details", async () => {
    const [recorded] = fixture("errors");
    if (!recorded) throw new Error("fixture missing");
    expect(checkResponse("POST", recorded.path, recorded.status, "application/json", JSON.stringify(recorded.response))).toEqual([]);
    const error = { status: recorded.status, response: { data: recorded.response } };
    expect(githubMessage(error)).toBe("HTTP 422: Validation Failed (color invalid)");
  });
});
