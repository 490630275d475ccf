import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { e2eWorld, type HelmMajor, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface ConfigMap { metadata: { annotations?: Record<string, string> } }

/**
 * The API server stops answering (connections accepted, nothing sent: the process is SIGSTOPped)
 * while a run waits for its build, or while helm upgrades. The run must notice that it cannot
 * renew its lease, stop acting and exit as transient within a bounded time, leave the state
 * intact, and the next tick must converge.
 */
describe.skipIf(skip !== undefined)("a stalled API server", () => {
  let world: World;
  let apiserver: number;
  const LEASE = { LEASE_DURATION: "6s" };
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    apiserver = Number(readFileSync(join(e2e.info.dir, "cluster", "kube-apiserver.pid"), "utf8"));
  });
  // Whatever happens in a test, the shared API server runs again afterwards.
  afterEach(() => process.kill(apiserver, "SIGCONT"));
  afterAll(async () => world?.close());

  const annotations = async (app: string) => (await world.get<ConfigMap>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app}`))?.metadata.annotations ?? {};
  const jobPosts = (app: string) => world.proxy.requests.filter((r) => r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.body.includes(`"ci-runner.dev/target":"${app}"`));
  const afterLease = () => new Promise((r) => setTimeout(r, 6_500));

  /** Runs a sync and freezes the API server the moment a request matching `when` arrives. */
  async function runFrozen(env: Record<string, string>, when: (r: { method: string; path: string }) => boolean) {
    const frozen = world.proxy.holdNext(when).then(() => {
      process.kill(apiserver, "SIGSTOP");
      return Date.now();
    });
    const run = await world.run(["sync", "--once"], env);
    const frozenAt = await Promise.race([frozen, Promise.resolve(undefined)]);
    process.kill(apiserver, "SIGCONT");
    return { run, frozenAt, endedAt: Date.now() };
  }

  it("mid-build: the run stops at the fence (exit 3), the state is intact, the next tick adopts the Job", async () => {
    const app = world.app("stall-build");
    const sha = app.commit();
    const env = app.env("helm4", { ...LEASE, KANIKO_IMAGE: "e2e.local/kaniko:slow" });
    const { run, frozenAt, endedAt } = await runFrozen(env, (r) => r.method === "GET" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.path.includes("watch=true"));
    expect(frozenAt, "the API server was frozen mid-build").toBeDefined();
    expect(run.code, run.stderr).toBe(3);
    // Three quarters of the 6 s lease after its last renewal, plus at most one request deadline.
    expect(endedAt - (frozenAt ?? 0)).toBeLessThan(25_000);
    expect(run.logs.map((l) => l.msg)).toContain("Stopped acting: the lease could not be renewed in time");
    const state = await annotations(app.name);
    expect(state["ci-runner.dev/deployed-sha"]).toBeUndefined();
    expect(state["ci-runner.dev/attempt-failures"]).toBeUndefined(); // not counted against the commit

    await afterLease();
    const next = await world.run(["sync", "--once"], env);
    expect(next.code, next.stderr).toBe(0);
    expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(sha);
    expect(jobPosts(app.name).filter((r) => r.body.includes(sha))).toHaveLength(1);
  });

  describe.each(["helm3", "helm4"] as const)("mid-helm with %s", (helm: HelmMajor) => {
    it("helm is stopped, the run exits 3 in bounded time, and the release converges (never left pending)", async () => {
      const app = world.app(`stall-helm-${helm}`);
      app.commit();
      const quick = app.env(helm, { ...LEASE, HELM_TIMEOUT: "10s" });
      expect((await world.run(["sync", "--once"], quick)).code).toBe(0);
      const sha = app.commit();
      const { run, frozenAt, endedAt } = await runFrozen(quick, (r) => r.method === "PATCH" && r.path.startsWith(`/apis/apps/v1/namespaces/${app.namespace}/deployments/`));
      expect(frozenAt, "the API server was frozen mid-helm").toBeDefined();
      expect(run.code, run.stderr).toBe(3);
      // The fence (4.5 s), then helm's SIGTERM grace (30 s) at most.
      expect(endedAt - (frozenAt ?? 0)).toBeLessThan(60_000);
      expect((await annotations(app.name))["ci-runner.dev/attempt-failures"]).toBeUndefined();

      // The next ticks: busy while the pending revision may still be someone's, then repaired and deployed.
      const deadline = Date.now() + 90_000;
      // The deploy began and never recorded its end, so it counts as the commit's first attempt
      // (once: a fenced run cannot write, and the next run cannot tell a fence from a kill).
      let last = await world.run(["sync", "--once"], quick);
      let counted = 0;
      while ((await annotations(app.name))["ci-runner.dev/deployed-sha"] !== sha && Date.now() < deadline) {
        if (last.code === 3 && last.stderr.includes("did not finish")) counted += 1;
        else expect(last.code, last.stderr).toBe(0);
        expect(counted).toBeLessThanOrEqual(1);
        await new Promise((r) => setTimeout(r, 3_000));
        last = await world.run(["sync", "--once"], quick);
      }
      expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(sha);
      const release = JSON.parse(world.helm(helm, "status", app.name, "-n", app.namespace, "-o", "json")) as { info: { status: string } };
      expect(release.info.status).toBe("deployed");
    });
  });
});
