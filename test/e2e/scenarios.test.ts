import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pushImage } from "./env/registry.ts";
import { e2eWorld, type HelmMajor, TOKEN, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface ConfigMap { metadata: { annotations?: Record<string, string> } }
interface Deployment { spec: { template: { spec: { containers: { image: string }[] } } } }

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined).each(["helm3", "helm4"] as const)("real cluster with %s", (helm: HelmMajor) => {
  let world: World;
  beforeAll(async () => {
    if ("info" in e2e) world = await e2eWorld(e2e.info);
  });
  afterAll(async () => world?.close());

  const jobsCreated = (app: string) => world.proxy.requests.filter((r) => r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.status === 201 && r.body.includes(`"ci-runner.dev/target":"${app}"`));
  const annotations = async (app: string) => (await world.get<ConfigMap>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app}`))?.metadata.annotations ?? {};
  const deployedImage = async (app: string) => (await world.get<Deployment>(`/apis/apps/v1/namespaces/${app}/deployments/${app}`))?.spec.template.spec.containers[0]?.image;
  const releaseOf = (app: string) => JSON.parse(world.helm(helm, "status", app, "-n", app, "-o", "json")) as { version: number; info: { status: string } };

  it("1-2. first deploy, an idle tick that costs a 304, then an upgrade to revision 2", async () => {
    const app = world.app(`first-${helm}`);
    const sha = app.commit();
    const first = await world.run(["sync", "--once"], app.env(helm));
    expect(first.code, first.stderr).toBe(0);
    expect(jobsCreated(app.name)).toHaveLength(1);
    expect(await deployedImage(app.name)).toBe(`${app.image}:${sha}`);
    expect(releaseOf(app.name)).toMatchObject({ version: 1, info: { status: "deployed" } });
    // What was built, and its digest, is proven on the real node (test/e2e/real): kwok builds nothing.
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/deployed-sha": sha });
    // The succeeded build Job was deleted; the Job the API server accepted had our labels.
    expect(await world.get(`/apis/batch/v1/namespaces/cicd/jobs/build-${app.name}-${sha.slice(0, 12)}-1`)).toBeUndefined();

    const status = await world.run(["status", "-o", "json"], app.env(helm));
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ deployed: { sha, image: `${app.image}:${sha}` }, head: { sha, deployed: true }, release: { status: "deployed", revision: 1 } });

    const before = await world.gitStats();
    const requestsBefore = world.proxy.requests.length;
    const idle = await world.run(["sync", "--once"], app.env(helm));
    expect(idle.code, idle.stderr).toBe(0);
    const after = await world.gitStats();
    expect(after.apiRequests - before.apiRequests).toBe(1);
    expect(after.apiCounted - before.apiCounted).toBe(0); // answered 304
    expect(world.proxy.requests.slice(requestsBefore).map((r) => `${r.method} ${r.path.split("?")[0]}`)).toEqual([`GET /api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`]);
    expect(jobsCreated(app.name)).toHaveLength(1);

    const second = app.commit();
    const upgrade = await world.run(["sync", "--once"], app.env(helm));
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(releaseOf(app.name)).toMatchObject({ version: 2, info: { status: "deployed" } });
    expect(await deployedImage(app.name)).toBe(`${app.image}:${second}`);
    expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(second);
  });

  // 3 (a failing build, set aside) and 4 (pods that never become ready, rolled back) are about
  // builds and pods: they run on the real node (test/e2e/real/builds.test.ts, lifecycle.test.ts,
  // evidence.test.ts), where Kaniko and the kubelet really fail.

  describe("5. SIGKILL at each crash window, then the next tick converges", () => {
    const unfinishedDeploy = (r: { code: number | null; stderr: string }) => r.code === 3 && r.stderr.includes("did not finish");
    const quickLease = { LEASE_DURATION: "6s", HELM_TIMEOUT: "10s" };
    const afterLease = () => new Promise((r) => setTimeout(r, 6_500));

    async function killThenConverge(name: string, killOn: (sha: string, app: string) => (r: { method: string; path: string; body: string }) => boolean, deployFirst = false) {
      const app = world.app(`${name}-${helm}`);
      let sha = app.commit();
      if (deployFirst) {
        expect((await world.run(["sync", "--once"], app.env(helm, quickLease))).code).toBe(0);
        sha = app.commit();
      }
      const killed = await world.run(["sync", "--once"], app.env(helm, quickLease), { killOn: killOn(sha, app.name) });
      expect(killed.killed, killed.stderr).toBe(true);
      await afterLease();
      let next = await world.run(["sync", "--once"], app.env(helm, quickLease));
      // A release that helm left pending is someone's until HELM_TIMEOUT (10 s here) + 30 s pass.
      // A deploy that began and never recorded its end costs its attempt (the runner cannot tell a
      // kill from a chart that kills it), once: the tick after it deploys again.
      const deadline = Date.now() + 60_000;
      let counted = 0;
      const runs = [next];
      while ((next.logs.some((l) => l.msg.startsWith("Release is mid-operation")) || unfinishedDeploy(next)) && Date.now() < deadline) {
        if (unfinishedDeploy(next)) counted += 1;
        else expect(next.code, next.stderr).toBe(0);
        await new Promise((r) => setTimeout(r, 3_000));
        next = await world.run(["sync", "--once"], app.env(helm, quickLease));
        runs.push(next);
      }
      expect(counted).toBeLessThanOrEqual(1);
      expect(next.code, next.stderr).toBe(0);
      expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(sha);
      expect(await deployedImage(app.name)).toBe(`${app.image}:${sha}`);
      const created = jobsCreated(app.name).filter((r) => r.body.includes(sha));
      expect(created).toHaveLength(1); // one build per SHA attempt
      return { app, sha, next, messages: runs.flatMap((r) => r.logs.map((l) => l.msg)) };
    }

    it("after creating the Job", async () => {
      let created = false;
      await killThenConverge("kill-created", () => (r) => {
        if (created) return true;
        created = r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs");
        return false;
      });
    });

    it("while waiting for the Job", async () => {
      await killThenConverge("kill-waiting", () => (r) => r.method === "GET" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.path.includes("watch=true"));
    });

    it("during helm upgrade (the release is left pending and repaired)", async () => {
      const { app, messages } = await killThenConverge("kill-helm", (_sha, name) => (r) => r.method === "PATCH" && r.path.startsWith(`/apis/apps/v1/namespaces/${name}/deployments/${name}`), true);
      // The tick that counts the unfinished attempt, or a later one, repairs the release.
      expect(messages).toContain("Repairing release left mid-operation by a killed helm");
      expect(releaseOf(app.name).info.status).toBe("deployed");
    });

    it("after helm and before recording (recorded without a second upgrade)", async () => {
      const { app, next } = await killThenConverge("kill-record", (sha, name) => (r) => r.method === "PATCH" && r.path.startsWith(`/api/v1/namespaces/cicd/configmaps/ci-runner-${name}`) && r.body.includes(`"ci-runner.dev/deployed-sha":"${sha}"`));
      expect(next.logs.map((l) => l.msg)).toContain("Recorded release deployed by an earlier run");
      expect(releaseOf(app.name).version).toBe(1);
    });
  });

  it("6. five sync --once at once: one build, one deploy, the others name the lease holder", async () => {
    const app = world.app(`five-${helm}`);
    const sha = app.commit();
    const runs = await Promise.all(Array.from({ length: 5 }, () => world.run(["sync", "--once"], app.env(helm))));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    const deployers = runs.filter((r) => r.logs.some((l) => l.msg === "Deployed release and recorded it"));
    expect(deployers).toHaveLength(1);
    const busy = runs.flatMap((r) => r.logs.filter((l) => l.msg === "Another run holds the lease; leaving the work to it"));
    expect(busy.length).toBeGreaterThanOrEqual(1);
    for (const line of busy) expect(line.holder).toMatch(/\/\d+$/);
    expect(jobsCreated(app.name)).toHaveLength(1);
    expect(releaseOf(app.name).version).toBe(1);
    expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(sha);
  });

  it("8. IMAGE:<sha> in the registry built by another configuration: refused (exit 2) naming both, nothing built or deployed; once the release has its own IMAGE it builds", async () => {
    const app = world.app(`prebuilt-${helm}`);
    const sha = app.commit();
    await pushImage(world.info.registry, `acme/${app.name}`, sha, { "ci-runner.dev/recipe": "https://git.example/acme/other dockerfile=Dockerfile context=. args=REVISION={sha}" });
    const refused = await world.run(["sync", "--once"], app.env(helm));
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.logs.find((l) => l.level === "error")?.msg).toMatch(/was built by another build configuration \(https:\/\/git\.example\/acme\/other dockerfile=Dockerfile .*\), not this release's \(.*dockerfile=Dockerfile context=\. args=REVISION=\{sha\}\)$/);
    expect(jobsCreated(app.name)).toHaveLength(0);
    expect(() => releaseOf(app.name), "no release was installed").toThrow();
    const own = await world.run(["sync", "--once"], app.env(helm, { IMAGE: `${world.info.registry.host}/acme/${app.name}-own` }));
    expect(own.code, own.stderr).toBe(0);
    expect(jobsCreated(app.name)).toHaveLength(1);
  });

  it("10. a release left in pending-upgrade by a killed helm is repaired, then deployed", async () => {
    const app = world.app(`pending-${helm}`);
    app.commit();
    expect((await world.run(["sync", "--once"], app.env(helm))).code).toBe(0);
    const sha = app.commit();
    await world.killHelmDuringUpgrade(helm, app);
    expect(releaseOf(app.name).info.status).toBe("pending-upgrade");
    // Just now it may be someone's helm still running: reported busy, never rolled back.
    const quick = app.env(helm, { HELM_TIMEOUT: "10s" });
    const busy = await world.run(["sync", "--once"], quick);
    expect(busy.code, busy.stderr).toBe(0);
    expect(busy.logs.map((l) => l.msg)).toContain("Release is mid-operation, perhaps by another helm; it is repaired only if still pending after HELM_TIMEOUT");
    expect(releaseOf(app.name).info.status).toBe("pending-upgrade");
    // Once older than HELM_TIMEOUT + 30 s, it is left over: repaired, then deployed.
    const until = Date.parse(String(busy.logs.find((l) => l.msg.startsWith("Release is mid-operation"))?.until));
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 500));
    const run = await world.run(["sync", "--once"], quick);
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs.map((l) => l.msg)).toContain("Repairing release left mid-operation by a killed helm");
    expect(releaseOf(app.name).info.status).toBe("deployed");
    expect(await deployedImage(app.name)).toBe(`${app.image}:${sha}`);
  });

  it("7. a private repository: the token appears in no Job, pod, Event, state, log, URL or child argv", async () => {
    const app = world.app(`private-${helm}`, { private: true });
    const sha = app.commit();
    await world.ensureTokenSecret(TOKEN);
    const spy = world.argvSpy();
    const env = app.env(helm, { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", HELM_BIN: spy.helm(helm), PATH: spy.path });
    const run = await world.run(["sync", "--once"], env);
    expect(run.code, run.stderr).toBe(0);
    expect((await annotations(app.name))["ci-runner.dev/deployed-sha"]).toBe(sha);

    const forms = [TOKEN, Buffer.from(TOKEN).toString("base64"), Buffer.from(`x-access-token:${TOKEN}`).toString("base64")];
    const jobPost = jobsCreated(app.name)[0]?.body ?? "";
    const podEnv = JSON.parse(jobPost).spec.template.spec.containers[0].env;
    expect(podEnv).toContainEqual({ name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: "git-token", key: "token" } } });
    const places: Record<string, string> = {
      "build Job spec": jobPost,
      "pods in cicd": JSON.stringify(await world.get("/api/v1/namespaces/cicd/pods")),
      "Events": JSON.stringify(await world.get("/api/v1/events")),
      "state ConfigMap": JSON.stringify(await world.get(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`)),
      "our logs": run.stdout + run.stderr,
      "URLs seen by the git server": (await world.gitStats()).urls.join("\n"),
      "child process argv": spy.calls(),
    };
    expect(spy.calls()).toMatch(/helm upgrade --install/);
    expect(spy.calls()).toMatch(/^git .* fetch --quiet --depth=1 --filter=blob:none/m);
    for (const [where, text] of Object.entries(places)) {
      for (const form of forms) expect(text.includes(form), `token found in ${where}`).toBe(false);
    }
  });

  it("9. the whole happy path as the ServiceAccount from manifests/ (TokenRequest), not as admin", async () => {
    const app = world.app("app");
    const sha = app.commit();
    const kubeconfig = await world.serviceAccountKubeconfig("cicd", "ci-runner-app");
    const env = app.env(helm, { KUBECONFIG: kubeconfig, DEPLOY_NS: "app", RELEASE: "app" });
    const from = world.proxy.requests.length;
    const run = await world.run(["sync", "--once"], env);
    expect(run.code, run.stderr).toBe(0);
    expect((await annotations("app"))["ci-runner.dev/deployed-sha"]).toBe(sha);
    expect(await deployedImage("app")).toBe(`${app.image}:${sha}`);
    // Nothing ci-runner asked for was refused. Helm 4's watcher also reads the Deployment's pods
    // on an upgrade, for its status messages; the base grants only `list` on pods (ci-runner's own
    // rollout watch), so Helm's other pod lookups may be refused, and it succeeds without them.
    const refused = world.proxy.requests.slice(from).filter((r) => r.status === 403);
    const helmPodLookups = (r: { method: string; path: string; userAgent: string }) => r.method === "GET" && /^\/api\/v1\/namespaces\/app\/pods\?/.test(r.path) && /^helm\//i.test(r.userAgent);
    expect(refused.filter((r) => !helmPodLookups(r)).map((r) => `${r.method} ${r.path} (${r.userAgent})`)).toEqual([]);
    const status = await world.run(["status", "-o", "json"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).deployed.sha).toBe(sha);
  });
});
