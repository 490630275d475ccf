import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { api, CONTROL_PLANE, type ControlPlane, controlPlaneBinaries, startControlPlane } from "./control-plane.ts";
import { stopAll } from "./processes.ts";
import { type Registry, startRegistry } from "./registry.ts";
import { toolPath } from "./tools.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** What the suites need to reach the shared environment (plain data: it crosses to test workers). */
export interface EnvironmentInfo {
  readonly dir: string;
  readonly server: string;
  readonly adminToken: string;
  readonly caCert: string;
  readonly kubeconfig: string;
  readonly registry: Registry;
  readonly helm3: string;
  readonly helm4: string;
  readonly kubectl: string;
  readonly bootSeconds: number;
  /** Only on the real node (kubelet, containerd, Kaniko); the kwok environment has none. */
  readonly real?: RealNodeInfo;
}

/** Pods reach loopback listeners as gateway:port; `registry.host` is already that name. */
export interface RealNodeInfo {
  readonly gateway: string;
  readonly bridge: string;
  /** The port the HTTPS git server must listen on: pods reach it through a DNAT rule made at boot. */
  readonly gitPort: number;
  /** The API server's port, forwarded from gateway:port for a runner in a pod. */
  readonly apiPort: number;
  /** Serving certificate for 127.0.0.1 and the gateway, signed by `caCert`. */
  readonly gitTls: { readonly cert: string; readonly key: string };
  readonly kanikoImage: string;
  /** The sample app's base image (busybox with /www). */
  readonly baseImage: string;
}

/** What a fresh machine needs besides npm packages; .ci/run installs them. */
const HOST_TOOLS = ["go", "git", "openssl", "unzip", "htpasswd", "docker-registry"];

export function missingHostTools(extra: readonly string[] = []): string[] {
  return [...HOST_TOOLS, ...extra].filter((tool) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
}

/** Boots the control plane and the registry, and prepares the build namespace. */
export async function bootEnvironment(dir: string): Promise<{ info: EnvironmentInfo; stop: () => Promise<void> }> {
  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bin = controlPlaneBinaries();
  const [cpStarted, registryStarted] = await Promise.allSettled([startControlPlane(join(dir, "cluster"), bin), startRegistry(dir)]);
  const stop = async () => {
    await stopAll(dir, ["registry"]);
    await stopAll(join(dir, "cluster"), [...CONTROL_PLANE].reverse());
  };
  // Both start at once: when one fails, the other is already running and must not outlive the run.
  if (cpStarted.status === "rejected" || registryStarted.status === "rejected") {
    await stop();
    throw cpStarted.status === "rejected" ? cpStarted.reason : (registryStarted as PromiseRejectedResult).reason;
  }
  const cp = cpStarted.value;
  const registry = registryStarted.value;
  try {
    const info: EnvironmentInfo = {
      dir, server: cp.server, adminToken: cp.adminToken, caCert: cp.caCert, kubeconfig: cp.kubeconfig, registry,
      helm3: toolPath("helm3"), helm4: toolPath("helm4"), kubectl: toolPath("kubectl"),
      bootSeconds: (Date.now() - started) / 1000,
    };
    await prepareBuildNamespace(cp, info);
    return { info, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The cicd namespace as manifests/ sets it up, plus the registry Secret for our registry. */
export async function prepareBuildNamespace(cp: ControlPlane, info: EnvironmentInfo): Promise<void> {
  execFileSync(info.kubectl, ["--kubeconfig", cp.kubeconfig, "apply", "--server-side", "-k", join(REPO_ROOT, "test/e2e/overlay")], { stdio: ["ignore", "ignore", "pipe"] });
  const auth = Buffer.from(`${info.registry.user}:${info.registry.password}`).toString("base64");
  const dockerconfig = JSON.stringify({ auths: { [info.registry.host]: { auth } } });
  const secret = {
    apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson",
    metadata: { name: "regcred", namespace: "cicd" },
    data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") },
  };
  const response = await api(cp.server, cp.adminToken, cp.caCert, "/api/v1/namespaces/cicd/secrets", { method: "POST", body: JSON.stringify(secret) });
  if (!response.ok) throw new Error(`creating the registry secret: HTTP ${response.status} ${response.text}`);
  writeFileSync(join(info.dir, "environment.json"), JSON.stringify(info, null, 2));
}
