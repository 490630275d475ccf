import { expect } from "vitest";
import type { World } from "./world.ts";

/** What the real-node scenarios read back: the state, the release's pods and what they serve. */

interface ConfigMap { metadata: { annotations?: Record<string, string> } }
interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { containers: { image: string }[] };
    status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

const MANIFEST_TYPES = ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"];

export async function annotations(world: World, release: string): Promise<Record<string, string>> {
  return (await world.get<ConfigMap>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${release}`))?.metadata.annotations ?? {};
}

/** The pages the release's Ready pods serve, read from the host over the bridge. */
export async function pagesServed(world: World, namespace: string, release: string): Promise<string[]> {
  const pods = await world.get<PodList>(`/api/v1/namespaces/${namespace}/pods?labelSelector=app%3D${release}`);
  const ready = (pods?.items ?? []).filter((p) => p.metadata.deletionTimestamp === undefined && p.status.phase === "Running"
    && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
  return Promise.all(ready.map(async (p) => (await (await fetch(`http://${p.status.podIP}:8080/`, { signal: AbortSignal.timeout(5_000) })).text()).trim()));
}

/** The manifest digest the registry serves for a tag, asked the way a client pulling it would. */
export async function registryDigest(world: World, image: string, tag: string): Promise<string | null> {
  const { registry } = world.info;
  const repository = image.slice(registry.host.length + 1);
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: MANIFEST_TYPES.join(", "), authorization: `Basic ${Buffer.from(`${registry.user}:${registry.password}`).toString("base64")}` },
  });
  return response.status === 200 ? response.headers.get("docker-content-digest") : null;
}

/** Build Jobs the API server accepted for an app, as seen by the test's API proxy. */
export function jobsCreated(world: World, release: string, sha?: string) {
  return world.proxy.requests.filter((r) => r.method === "POST" && r.path.startsWith("/apis/batch/v1/namespaces/cicd/jobs") && r.status === 201
    && r.body.includes(`"ci-runner.dev/target":"${release}"`) && (sha === undefined || r.body.includes(sha)));
}

/** Kaniko's own output as relayed into our log. */
export function buildOutput(run: { logs: { msg: string; line?: unknown }[] }): string[] {
  return run.logs.filter((l) => l.msg === "Build output").map((l) => String(l.line));
}

export function expectExit(run: { code: number | null; stderr: string; stdout: string }, code: number): void {
  expect(run.code, `exit ${run.code}; log:\n${run.stderr}${run.stdout}`).toBe(code);
}
