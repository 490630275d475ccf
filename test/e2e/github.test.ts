import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api } from "./env/control-plane.ts";
import { e2eWorld, TOKEN, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface GitHubState {
  problems: string[];
  deployments: { sha: string; environment: string; payload: unknown; states: string[]; descriptions: string[] }[];
  commitStatuses: { repo: string; sha: string; state: string; context: string; description: string | null }[];
  minted: number;
}
interface Job { metadata: { name: string; uid: string }; spec: { template: { spec: { containers: { env?: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] }[] } } } }
interface Secret { metadata: { name: string; ownerReferences?: { kind: string; name: string; uid: string }[] } }

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("GitHub: Deployments, commit statuses and an App's installation tokens, against the local endpoint", () => {
  let world: World;
  beforeAll(async () => {
    if ("info" in e2e) world = await e2eWorld(e2e.info);
  });
  afterAll(async () => world?.close());

  const github = async () => (await (await fetch(`${world.git.url}/_github`)).json()) as GitHubState;
  const settings = (body: { deploymentsForbidden: boolean }) => fetch(`${world.git.url}/_github/settings`, { method: "PUT", body: JSON.stringify(body) });
  const app = () => world.git.app;
  const appEnv = () => ({ GITHUB_APP_ID: String(app().id), GITHUB_APP_PRIVATE_KEY: app().privateKey });
  const tokenSecrets = async () => ((await world.get<{ items: Secret[] }>("/api/v1/namespaces/cicd/secrets"))?.items ?? []).filter((s) => s.metadata.name.endsWith("-git-token") && s.metadata.name !== "git-token");
  async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    for (let i = 0; ; i++) {
      const value = await read();
      if (done(value)) return value;
      if (i > 120) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it("a GitHub App builds a private repository with a minted token; its Secret goes with its Job; the Deployment goes in_progress to success", async () => {
    const target = world.app("appauth", { private: true });
    const sha = target.commit();
    const before = await github();
    const run = await world.run(["sync", "--once"], target.env("helm4", { ...appEnv(), GITHUB_DEPLOYMENTS: "true", GITHUB_ENVIRONMENT_URL: "https://appauth.example.com" }));
    expect(run.code, run.stderr).toBe(0);
    const after = await github();
    // Two tokens: the runner's (Deployments, statuses) and the build pod's, which may read code only.
    expect(after.minted - before.minted).toBe(2);
    expect(run.logs.filter((l) => l.msg === "Minted a GitHub App installation token").map((l) => l.permissions)).toEqual(expect.arrayContaining([{ contents: "read" }, "the installation's"]));
    expect(after.deployments.filter((d) => d.sha === sha)).toEqual([
      expect.objectContaining({ environment: "appauth/appauth", payload: { ci_runner: { release: "appauth", attempt: 1 } }, states: ["in_progress", "in_progress", "in_progress", "success"] }),
    ]);
    // The build pod read the token from a Secret named after its Job; the Job was deleted after the
    // build, and the garbage collector took the Secret with it.
    const job = world.proxy.requests.find((r) => r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.status === 201 && r.body.includes(sha));
    const env = (JSON.parse(job?.body ?? "{}") as Job).spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "GIT_PASSWORD")?.valueFrom?.secretKeyRef?.name).toBe(`build-appauth-${sha.slice(0, 12)}-1-git-token`);
    await until("token Secrets left after their Jobs", tokenSecrets, (s) => s.every((x) => !x.metadata.name.includes(sha.slice(0, 12))));
    expect(run.stderr).not.toContain("ghs_");
    expect(after.problems).toEqual([]);
  });

  it("a failed build keeps its Job and the Secret it owns (for kubectl logs) until the Job goes; the Deployment says failure", async () => {
    const target = world.app("appfail", { private: true });
    const sha = target.commit();
    const run = await world.run(["sync", "--once"], target.env("helm4", { ...appEnv(), GITHUB_DEPLOYMENTS: "true", KANIKO_IMAGE: "e2e.local/kaniko:fail" }));
    expect(run.code, run.stderr).toBe(3);
    const name = `build-appfail-${sha.slice(0, 12)}-1`;
    const jobUid = (await world.get<Job>(`/apis/batch/v1/namespaces/cicd/jobs/${name}`))?.metadata.uid;
    const secret = await world.get<Secret>(`/api/v1/namespaces/cicd/secrets/${name}-git-token`);
    expect(secret?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Job", name, uid: jobUid })]);
    const state = await github();
    expect(state.deployments.find((d) => d.sha === sha)).toMatchObject({ states: ["in_progress", "failure"], descriptions: [expect.any(String), expect.stringMatching(/^Build failed: /)] });
    await api(world.info.server, world.info.adminToken, world.info.caCert, `/apis/batch/v1/namespaces/cicd/jobs/${name}?propagationPolicy=Background`, { method: "DELETE" });
    await until("the token Secret of the deleted Job", () => world.get(`/api/v1/namespaces/cicd/secrets/${name}-git-token`), (s) => s === undefined);
    expect(state.problems).toEqual([]);
  });

  it("a token that may not create deployments: commit statuses under ci-runner/RELEASE instead, said once", async () => {
    await settings({ deploymentsForbidden: true });
    try {
      const target = world.app("statuses");
      const sha = target.commit();
      await world.ensureTokenSecret(TOKEN);
      const run = await world.run(["sync", "--once"], target.env("helm4", { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", GITHUB_DEPLOYMENTS: "true" }));
      expect(run.code, run.stderr).toBe(0);
      const state = await github();
      expect(state.commitStatuses.filter((s) => s.sha === sha).map((s) => `${s.context} ${s.state}`)).toEqual([
        "ci-runner/statuses pending", "ci-runner/statuses pending", "ci-runner/statuses pending", "ci-runner/statuses success",
      ]);
      expect(run.logs.filter((l) => String(l.msg).startsWith("The GitHub token may not create deployments"))).toHaveLength(1);
      expect(state.problems).toEqual([]);
    } finally {
      await settings({ deploymentsForbidden: false });
    }
  });
});
