import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { e2eWorld, type HelmMajor, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface Job { metadata: { name: string; labels: Record<string, string> }; spec: { template: { spec: { containers: { image: string }[] } } } }
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
    expect(await annotations(app.name)).toMatchObject({ "ci-runner.dev/deployed-sha": sha, "ci-runner.dev/deployed-digest": `sha256:${sha}${"0".repeat(24)}` });
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
});
