import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { e2eWorld, type HelmMajor, type World } from "../support/world.ts";

const real = inject("real");
const skip = "skip" in real ? real.skip : undefined;

interface ConfigMap { metadata: { annotations?: Record<string, string> } }
interface PodList {
  items: { metadata: { name: string }; status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] } }[];
}

const MANIFEST_TYPES = ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"];

// A skipped run says why: not root, or a Debian package is missing (never with CI=true).
describe.skipIf(skip !== undefined).each(["helm3", "helm4"] as const)("real node with %s", (helm: HelmMajor) => {
  let world: World;
  beforeAll(async () => {
    if ("info" in real) world = await e2eWorld(real.info);
  });
  afterAll(async () => world?.close());

  /** The manifest digest the registry serves for a tag, asked the way a client pulling it would. */
  async function registryDigest(repository: string, tag: string): Promise<string | null> {
    const { registry } = world.info;
    const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
      method: "HEAD",
      headers: { accept: MANIFEST_TYPES.join(", "), authorization: `Basic ${Buffer.from(`${registry.user}:${registry.password}`).toString("base64")}` },
    });
    expect(response.status, `HEAD ${repository}:${tag}`).toBe(200);
    return response.headers.get("docker-content-digest");
  }

  it("builds a commit with the real Kaniko, deploys it, and the running pod serves that commit", async () => {
    const app = world.app(`web-${helm}`);
    const sha = app.commit();
    const started = Date.now();
    const sync = await world.run(["sync", "--once"], app.env(helm));
    const seconds = (Date.now() - started) / 1000;
    // Kept in the run folder: the log is what to read first when a real build fails.
    writeFileSync(join(world.root, `sync-${app.name}.log`), sync.stderr);
    expect(sync.code, `ci-runner sync --once exited ${sync.code}:\n${sync.stderr}${sync.stdout}`).toBe(0);
    const at = (msg: string) => Date.parse(String(sync.logs.find((l) => l.msg === msg)?.time));
    const build = (at("Build Job finished") - at("Created build Job")) / 1000;
    const deploy = (at("Deployed release and recorded it") - at("Deploying release")) / 1000;
    console.log(`${helm}: sync --once ${seconds.toFixed(1)}s; Kaniko Job ${build.toFixed(1)}s; helm upgrade until Ready ${deploy.toFixed(1)}s`);

    const repository = app.image.slice(world.info.registry.host.length + 1);
    const digest = await registryDigest(repository, sha);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await registryDigest(repository, "main-latest")).toBe(digest);

    const state = await world.get<ConfigMap>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`);
    expect(state?.metadata.annotations).toMatchObject({ "ci-runner.dev/deployed-sha": sha, "ci-runner.dev/deployed-digest": digest });

    const pods = await world.get<PodList>(`/api/v1/namespaces/${app.namespace}/pods?labelSelector=app%3D${app.release}`);
    const ready = pods?.items.filter((p) => p.status.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")) ?? [];
    expect(ready, JSON.stringify(pods?.items.map((p) => p.status))).toHaveLength(1);
    const podIP = ready[0]?.status.podIP ?? "";
    expect(podIP.startsWith(world.info.real?.gateway.split(".").slice(0, 3).join(".") ?? "-")).toBe(true);

    // From the host over the bridge, as the kubelet's probe does.
    const page = await fetch(`http://${podIP}:8080/`, { signal: AbortSignal.timeout(5_000) });
    expect(page.status).toBe(200);
    // The page is the Dockerfile's REVISION build argument: empty when the Job passed no --build-arg=REVISION=<sha>.
    expect((await page.text()).trim(), "page served by the pod (the REVISION build argument)").toBe(sha);
  });
});
