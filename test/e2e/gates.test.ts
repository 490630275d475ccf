import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type App, e2eWorld, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface ConfigMap { metadata: { annotations?: Record<string, string> } }
interface Deployment { spec: { template: { spec: { containers: { image: string }[] } } } }

/**
 * Each gate on the real control plane and the local GitHub endpoint: what it changes in what is
 * built and deployed, what `status` and `plan` say, and what a tick costs. Helm 4 only: the gates
 * decide before helm is involved, and scenarios.test.ts covers both Helm majors.
 */
describe.skipIf(skip !== undefined)("gates on the real control plane", () => {
  let world: World;
  beforeAll(async () => {
    if ("info" in e2e) world = await e2eWorld(e2e.info);
  });
  afterAll(async () => {
    if (world) expect(await (await fetch(`${world.git.url}/_gates/problems`)).json(), "unexpected requests to the GitHub endpoint").toEqual([]);
    await world?.close();
  });

  const jobsCreated = (app: string) => world.proxy.requests.filter((r) => r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.status === 201 && r.body.includes(`"ci-runner.dev/target":"${app}"`)).length;
  const annotations = async (app: string) => (await world.get<ConfigMap>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app}`))?.metadata.annotations ?? {};
  const deployedImage = async (app: string) => (await world.get<Deployment>(`/apis/apps/v1/namespaces/${app}/deployments/${app}`))?.spec.template.spec.containers[0]?.image;
  const revision = (app: string) => (JSON.parse(world.helm("helm4", "status", app, "-n", app, "-o", "json")) as { version: number }).version;
  const json = async (app: App, args: string[], extra: Record<string, string>) => {
    const run = await world.run([...args, "-o", "json"], app.env("helm4", extra));
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };
  const sync = async (app: App, extra: Record<string, string>, code = 0) => {
    const run = await world.run(["sync", "--once"], app.env("helm4", extra));
    expect(run.code, run.stderr).toBe(code);
    return run;
  };

  /** A commit with its own message and author (the world's commit() writes "commit N" as e2e). */
  function commit(app: App, message: string, files: Record<string, string>, author = "e2e"): string {
    const work = join(world.root, "work", app.name);
    const env = { ...process.env, GIT_AUTHOR_NAME: author, GIT_AUTHOR_EMAIL: `${author}@example.invalid`, GIT_COMMITTER_NAME: "e2e", GIT_COMMITTER_EMAIL: "e2e@example.invalid", GIT_CONFIG_NOSYSTEM: "1" };
    const git = (...args: string[]) => execFileSync("git", args, { cwd: work, env, encoding: "utf8" }).trim();
    for (const [path, text] of Object.entries(files)) execFileSync("sh", ["-c", `mkdir -p "$(dirname "$1")" && printf '%s' "$2" > "$1"`, "sh", join(work, path), text]);
    git("add", "-A");
    git("commit", "--quiet", "-m", message);
    git("push", "--quiet", join(world.root, "acme", `${app.name}.git`), "main");
    return git("rev-parse", "HEAD");
  }

  async function setChecks(app: App, sha: string, body: { checkRuns?: unknown[]; statuses?: unknown[] }) {
    const response = await fetch(`${world.git.url}/_gates/checks/${app.repo}/${sha}`, { method: "PUT", body: JSON.stringify(body) });
    expect(response.status).toBe(204);
  }

  /** GitHub requests (and those charged to the rate limit) and Kubernetes requests of one run. */
  async function cost(body: () => Promise<unknown>) {
    const before = await world.gitStats();
    const kube = world.proxy.requests.length;
    await body();
    const after = await world.gitStats();
    return {
      github: after.apiRequests - before.apiRequests,
      charged: after.apiCounted - before.apiCounted,
      kube: world.proxy.requests.slice(kube).map((r) => `${r.method} ${r.path.split("?")[0]}`),
    };
  }

  it("skip markers and bot authors: recorded as seen, not built; status says why; an idle tick with every gate still costs one 304 and one ConfigMap read", async () => {
    const app = world.app("gate-skip");
    app.commit();
    const every = {
      SKIP_MARKERS: "true", SKIP_AUTHORS: "renovate[bot]", BUILD_PATHS: "app.txt,Dockerfile", REQUIRED_CHECKS: "all",
      REQUIRE_APPROVAL: "true", FREEZE_WINDOWS: "0 0 1 1 * 1m",
    };
    await sync(app, {});
    expect(jobsCreated(app.name)).toBe(1);
    const idle = await cost(() => sync(app, every));
    expect(idle).toEqual({ github: 1, charged: 0, kube: [`GET /api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`] });

    const skipped = commit(app, "docs: typo [skip ci]", { "app.txt": "version 2\n" });
    const run = await sync(app, { SKIP_MARKERS: "true" });
    expect(run.logs.map((l) => l.msg)).toContain("Recorded head commit as seen; not building it");
    expect(jobsCreated(app.name)).toBe(1);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/seen-sha": skipped, "ci-runner.dev/seen-reason": "its message carries [skip ci]" });
    expect(await json(app, ["status"], { SKIP_MARKERS: "true" })).toMatchObject({ head: { sha: skipped, deployed: false }, gate: null, skipped: { sha: skipped, reason: "its message carries [skip ci]" } });
    expect(await json(app, ["plan"], { SKIP_MARKERS: "true" })).toMatchObject({ action: "skipped", sha: skipped });
    const seenIdle = await cost(() => sync(app, { SKIP_MARKERS: "true" }));
    expect(seenIdle.github).toBe(1);
    expect(seenIdle.charged).toBe(0);

    const bot = commit(app, "chore(deps): bump", { "app.txt": "version 3\n" }, "renovate[bot]");
    await sync(app, { SKIP_AUTHORS: "renovate[bot]" });
    expect(jobsCreated(app.name)).toBe(1);
    expect((await annotations(app.name))["ci-runner.dev/seen-sha"]).toBe(bot);
    expect(await json(app, ["status"], { SKIP_AUTHORS: "renovate[bot]" })).toMatchObject({ skipped: { sha: bot, reason: "its author renovate[bot] is in SKIP_AUTHORS" } });
  });

  it("path filters: a chart-only change deploys the running image; an unrelated change is seen; a build path builds", async () => {
    const app = world.app("gate-paths");
    const first = app.commit();
    const paths = { BUILD_PATHS: "app.txt,Dockerfile" };
    await sync(app, paths);
    expect(jobsCreated(app.name)).toBe(1);

    const chart = commit(app, "chart: a label", { "chart/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-info\ndata:\n  tag: {{ .Values.image.tag | quote }}\n  extra: \"1\"\n" });
    const plan = await json(app, ["plan"], paths);
    expect(plan).toMatchObject({ action: { kind: "deploy", sha: chart, imageSha: first } });
    expect(plan.helm).toContain(`image.tag=${first}`);
    await sync(app, paths);
    expect(jobsCreated(app.name)).toBe(1);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${first}`);
    expect(revision(app.name)).toBe(2);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/deployed-sha": chart, "ci-runner.dev/deployed-image-sha": first });
    expect(await json(app, ["status"], paths)).toMatchObject({ deployed: { sha: chart, image: `${app.image}:${first}` } });

    const docs = commit(app, "docs", { "README.md": "hello\n" });
    await sync(app, paths);
    expect(jobsCreated(app.name)).toBe(1);
    expect(revision(app.name)).toBe(2);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/seen-sha": docs, "ci-runner.dev/seen-reason": `nothing under BUILD_PATHS, the chart or the values files changed since ${chart.slice(0, 12)}` });

    const code = commit(app, "feat", { "app.txt": "version 9\n" });
    await sync(app, paths);
    expect(jobsCreated(app.name)).toBe(2);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${code}`);
    expect(await annotations(app.name)).not.toHaveProperty("ci-runner.dev/deployed-image-sha");
  });

  it("checks: pending waits at one request a tick (no lease, no write); green deploys; red sets aside with the check's name and link", async () => {
    const app = world.app("gate-checks");
    app.commit();
    const checks = { REQUIRED_CHECKS: "test,ci/legacy" };
    await sync(app, {});
    const head = app.commit();
    await setChecks(app, head, { checkRuns: [{ name: "test", status: "in_progress", conclusion: null, html_url: "https://ci.example/runs/1" }] });
    const waiting = await sync(app, checks);
    expect(waiting.logs.find((l) => l.msg === "Head commit is held by a gate")).toMatchObject({ gate: "checks", reason: 'waiting: check "test" is pending: https://ci.example/runs/1' });
    expect(jobsCreated(app.name)).toBe(1);
    expect(await json(app, ["status"], checks)).toMatchObject({ gate: { sha: head, action: "hold", gate: "checks" } });
    expect(await json(app, ["plan"], checks)).toMatchObject({ gate: "checks", action: { kind: "hold", gate: "checks" } });
    const tick = await cost(() => sync(app, checks));
    expect(tick).toEqual({ github: 2, charged: 1, kube: [`GET /api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`] });

    await setChecks(app, head, { checkRuns: [{ name: "test", status: "completed", conclusion: "success" }], statuses: [{ context: "ci/legacy", state: "success" }] });
    await sync(app, checks);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${head}`);

    const red = app.commit();
    await setChecks(app, red, { checkRuns: [{ name: "test", status: "completed", conclusion: "failure", html_url: "https://ci.example/runs/7" }] });
    await sync(app, checks, 4);
    expect(jobsCreated(app.name)).toBe(2);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/set-aside-sha": red, "ci-runner.dev/set-aside-reason": 'check "test" failed: https://ci.example/runs/7' });
    expect(await json(app, ["status"], checks)).toMatchObject({ setAside: { sha: red, reason: 'check "test" failed: https://ci.example/runs/7' } });
  });

  it("approval: held until `ci-runner approve` (recording who, as the API server knows them) or a kubectl annotation", async () => {
    const app = world.app("gate-approval");
    app.commit();
    const approval = { REQUIRE_APPROVAL: "true" };
    await sync(app, {});
    const head = app.commit();
    await sync(app, approval);
    expect(jobsCreated(app.name)).toBe(1);
    expect(await json(app, ["status"], approval)).toMatchObject({ gate: { sha: head, gate: "approval", reason: `waiting for approval: \`ci-runner approve ${head}\`` } });
    expect(await json(app, ["plan"], approval)).toMatchObject({ gate: "approval" });

    const approve = await world.run(["approve", head], app.env("helm4", approval));
    expect(approve.code, approve.stderr).toBe(0);
    const state = await annotations(app.name);
    expect(state["ci-runner.dev/approved-sha"]).toBe(head);
    // The admin kubeconfig's token user, confirmed by the API server (SelfSubjectReview).
    expect(state["ci-runner.dev/approved-by"]).toMatch(/^[^ ]+$/);
    expect(await json(app, ["status"], approval)).toMatchObject({ gate: null, approved: { sha: head, by: state["ci-runner.dev/approved-by"], at: expect.any(String) } });
    await sync(app, approval);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${head}`);

    const next = app.commit();
    await sync(app, approval);
    expect(jobsCreated(app.name)).toBe(2);
    // By hand, an approval names who gave it: the annotation alone is refused by the state policy,
    // and the approver must be the user the API server knows (here: admin).
    const annotate = (...pairs: string[]) => execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, "-n", "cicd", "annotate", "--overwrite", "configmap", `ci-runner-${app.name}`, ...pairs], { stdio: ["pipe", "pipe", "pipe"] });
    // (The earlier approval's approved-by=admin is still there: removing it leaves the SHA unnamed.)
    expect(() => annotate(`ci-runner.dev/approved-sha=${next}`, "ci-runner.dev/approved-by-")).toThrow(/ValidatingAdmissionPolicy 'ci-runner-state'.*an approval names who gave it: set ci-runner.dev\/approved-by to admin/);
    expect(() => annotate(`ci-runner.dev/approved-sha=${next}`, "ci-runner.dev/approved-by=someone-else")).toThrow(/set ci-runner.dev\/approved-by to admin/);
    annotate(`ci-runner.dev/approved-sha=${next}`, "ci-runner.dev/approved-by=admin");
    await sync(app, approval);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${next}`);
  });

  it("freeze windows: nothing is built or deployed during one and status says until when", async () => {
    const app = world.app("gate-freeze");
    app.commit();
    await sync(app, {});
    const head = app.commit();
    const frozen = { FREEZE_WINDOWS: "* * * * * 2h UTC" };
    await sync(app, frozen);
    expect(jobsCreated(app.name)).toBe(1);
    const status = await json(app, ["status"], frozen);
    expect(status.gate).toMatchObject({ sha: head, action: "hold", gate: "freeze", until: expect.stringMatching(/^\d{4}-/) });
    expect(Date.parse(status.gate.until) - Date.now()).toBeGreaterThan(3_500_000);
    await sync(app, { FREEZE_WINDOWS: "0 0 1 1 * 1m" });
    expect(await deployedImage(app.name)).toBe(`${app.image}:${head}`);
  });

  it("a commit rolled back stays set aside while every gate says yes, until a newer commit", async () => {
    const app = world.app("gate-rollback");
    const good = app.commit();
    await sync(app, {});
    const bad = commit(app, "break readiness", { "chart/values.yaml": "image:\n  repository: x\n  tag: latest\nneverReady: true\n" });
    await setChecks(app, bad, { checkRuns: [{ name: "test", status: "completed", conclusion: "success" }] });
    const gates = { MAX_RETRIES: "1", HELM_TIMEOUT: "10s", BUILD_PATHS: "app.txt", REQUIRED_CHECKS: "test", REQUIRE_APPROVAL: "true", SKIP_MARKERS: "true", FREEZE_WINDOWS: "0 0 1 1 * 1m" };
    expect((await world.run(["approve", bad], app.env("helm4", gates))).code).toBe(0);
    await sync(app, gates, 4);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${good}`);
    const rev = revision(app.name);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/set-aside-sha": bad, "ci-runner.dev/approved-sha": bad });
    await sync(app, gates, 4);
    expect(revision(app.name)).toBe(rev);
    const plan = await world.run(["plan", "-o", "json"], app.env("helm4", gates));
    expect(plan.code, plan.stderr).toBe(4);
    expect(JSON.parse(plan.stdout)).toMatchObject({ action: "set-aside", sha: bad });

    const fix = commit(app, "fix readiness", { "chart/values.yaml": "image:\n  repository: x\n  tag: latest\nneverReady: false\n" });
    await setChecks(app, fix, { checkRuns: [{ name: "test", status: "completed", conclusion: "success" }] });
    expect((await world.run(["approve", fix], app.env("helm4", gates))).code).toBe(0);
    await sync(app, gates);
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/deployed-sha": fix, "ci-runner.dev/deployed-image-sha": good });
    expect(await annotations(app.name)).not.toHaveProperty("ci-runner.dev/set-aside-sha");
  });
});
