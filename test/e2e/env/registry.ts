import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startProcess, waitFor } from "./processes.ts";

export interface Registry {
  readonly host: string;
  readonly user: string;
  readonly password: string;
}

/** Debian's docker-registry (distribution 2.8) on loopback, with htpasswd (bcrypt) auth. */
export async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(join(dir, "registry-data"), { recursive: true });
  const port = await freePort();
  const user = "e2e-pusher";
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const htpasswd = execFileSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" });
  writeFileSync(join(dir, "registry.htpasswd"), htpasswd);
  writeFileSync(join(dir, "registry.yml"), `version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: ${join(dir, "registry-data")}}}
http: {addr: "127.0.0.1:${port}"}
auth: {htpasswd: {realm: e2e, path: ${join(dir, "registry.htpasswd")}}}
`);
  const started = startProcess(dir, "registry", "docker-registry", ["serve", join(dir, "registry.yml")]);
  const host = `127.0.0.1:${port}`;
  await waitFor("the registry /v2/", async () => (await fetch(`http://${host}/v2/`)).status === 401, started, 30_000);
  return { host, user, password };
}

/** Pushes a tiny one-layer OCI image with the Registry v2 API, with `labels` in its config; returns its manifest digest. */
export async function pushImage(registry: Registry, repository: string, tag: string, labels: Record<string, string> = {}): Promise<string> {
  const auth = `Basic ${Buffer.from(`${registry.user}:${registry.password}`).toString("base64")}`;
  const base = `http://${registry.host}/v2/${repository}`;
  const blob = async (content: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
    const start = await fetch(`${base}/blobs/uploads/`, { method: "POST", headers: { authorization: auth } });
    if (start.status !== 202) throw new Error(`registry upload start: HTTP ${start.status}`);
    const location = new URL(start.headers.get("location") ?? "", `http://${registry.host}`);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, { method: "PUT", headers: { authorization: auth, "content-type": "application/octet-stream" }, body: content });
    if (put.status !== 201) throw new Error(`registry upload: HTTP ${put.status}`);
    return { digest, size: content.length };
  };
  const layer = await blob(Buffer.from(`layer for ${tag}`));
  const config = await blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layer.digest] }, config: { Labels: labels } })));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  }));
  const put = await fetch(`${base}/manifests/${tag}`, { method: "PUT", headers: { authorization: auth, "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
  if (put.status !== 201) throw new Error(`registry manifest: HTTP ${put.status} ${await put.text()}`);
  return put.headers.get("docker-content-digest") ?? "";
}
