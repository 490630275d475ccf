import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, CONTROL_PLANE, controlPlaneBinaries, startControlPlane } from "./control-plane.ts";
import { killLeftoverShims, removeAllContainers, startContainerd } from "./containerd.ts";
import { type EnvironmentInfo, missingHostTools, prepareBuildNamespace, REPO_ROOT } from "./environment.ts";
import { hostLeftovers, mountsUnder, recordHostState, restoreHostState, savedHostState, unmountUnder } from "./host-state.ts";
import { ensureImages, IMAGES, pushImages, writeAuthFile } from "./images.ts";
import { startKubelet } from "./kubelet.ts";
import { bridgeExists, exposeToPods, type PodNetwork, podNetwork, setUpPodNetwork, taggedRules, tearDownPodNetwork } from "./network.ts";
import { cachedCa, signCert } from "./pki.ts";
import { commandLine, freePort, sleep, stopAll, waitFor } from "./processes.ts";
import { startRegistry } from "./registry.ts";
import { toolPath } from "./tools.ts";

/**
 * A real single-node cluster on this machine: registry, containerd + runc, pod bridge, control
 * plane, kubelet. Needs root. Everything the run starts or changes is recorded in `dir` first, so
 * tearDownRealNode(dir) undoes it after a good boot, a failed one, or a killed test process.
 *
 *   dir/host.json        host state before boot (ip_forward, absent host paths and cgroups)
 *   dir/real-node.json   the network (bridge, rule tag) and containerd socket teardown needs
 *   dir/registry.*, dir/containerd/, dir/cluster/, dir/kubelet/
 */
interface Layout {
  readonly net: PodNetwork;
  readonly containerdSocket: string;
}

const DIRS = { containerd: "containerd", cluster: "cluster", kubelet: "kubelet" } as const;

/** Debian packages the real node needs beyond the kwok suite's: containerd runc containernetworking-plugins buildah busybox-static iptables iproute2. */
const NODE_TOOLS = ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "buildah", "iptables", "ip", "umount"];
const NODE_FILES = ["/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", "/bin/busybox"];

/** What this machine lacks to run a real node (root, Linux, the packages); empty when it can. */
export function missingRealNodePrerequisites(): string[] {
  if (process.platform !== "linux") return ["Linux (a kubelet, containerd and a bridge)"];
  const missing: string[] = [...missingHostTools(NODE_TOOLS), ...NODE_FILES.filter((f) => !existsSync(f))];
  if (process.getuid?.() !== 0) missing.unshift("root (a kubelet, containerd and a bridge)");
  return missing;
}

/** Builds (or finds cached) the Kaniko executor and pause with tools/kaniko/build.sh. */
export function kanikoBinaries(): string {
  const out = execFileSync("bash", [join(REPO_ROOT, "tools/kaniko/build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").at(-1) ?? "";
}

function lap(started: number, what: string): void {
  console.log(`[real node ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${what}`);
}

export async function bootRealNode(dir: string): Promise<{ info: EnvironmentInfo; stop: () => Promise<void> }> {
  const started = Date.now();
  const net = podNetwork(`ci-runner-e2e-${dir.split("/").at(-1)}`);
  // Checked before the layout is written, so this run's teardown never deletes another run's bridge,
  // and before the host state is recorded: another live node's changes are not the host's state.
  if (bridgeExists(net.bridge)) throw new Error(`bridge ${net.bridge} already exists: another real node runs on this machine, or a killed run left it (the next run's setup tears such a run down)`);
  mkdirSync(dir, { recursive: true });
  recordHostState(dir);
  const layout: Layout = { net, containerdSocket: join(dir, DIRS.containerd, "containerd.sock") };
  writeFileSync(join(dir, "real-node.json"), JSON.stringify(layout, null, 2));
  const stop = () => tearDownRealNode(dir);
  try {
    const bin = controlPlaneBinaries();
    const imageBin = kanikoBinaries();
    const ca = cachedCa(join(REPO_ROOT, ".testenv", "real-ca"));
    const local = ensureImages(join(REPO_ROOT, ".testenv", "buildah"), { bin: imageBin, caCert: ca.cert });
    lap(started, "binaries and images ready");

    const registry = await startRegistry(dir);
    const registryPort = Number(registry.host.split(":")[1]);
    const gitPort = await freePort();
    setUpPodNetwork(net, [registryPort, gitPort]);
    const nodeRegistry = { ...registry, host: `${net.gateway}:${registryPort}` };
    const authFile = join(dir, "registry-auth.json");
    writeAuthFile(authFile, registry.host, registry.user, registry.password);
    pushImages(join(REPO_ROOT, ".testenv", "buildah"), local, registry.host, authFile);
    lap(started, `registry up, bridge ${net.bridge} ${net.subnet}, images pushed`);

    const [containerd, cp] = await Promise.all([
      startContainerd(join(dir, DIRS.containerd), net, nodeRegistry),
      startControlPlane(join(dir, DIRS.cluster), bin, { kind: "real", ca, gateway: net.gateway }),
    ]);
    // A runner in a pod reaches the API server as gateway:port (there is no kube-proxy here).
    const apiPort = Number(new URL(cp.server).port);
    exposeToPods(net, apiPort);
    lap(started, "containerd and control plane up");
    if (!cp.kubelet) throw new Error("the control plane made no kubelet credentials");
    const kubelet = await startKubelet(join(dir, DIRS.kubelet), bin, containerd.socket, cp.kubelet);
    await waitFor("the Node localhost to be Ready", () => nodeReady(cp.server, cp.adminToken, cp.caCert), kubelet, 120_000);
    lap(started, "node Ready");

    const gitTls = signCert(cp.dir, "git", "/CN=git", `subjectAltName=IP:127.0.0.1,IP:${net.gateway},DNS:localhost\nextendedKeyUsage=serverAuth`);
    const info: EnvironmentInfo = {
      dir, server: cp.server, adminToken: cp.adminToken, caCert: cp.caCert, kubeconfig: cp.kubeconfig, registry: nodeRegistry,
      helm3: toolPath("helm3"), helm4: toolPath("helm4"), kubectl: toolPath("kubectl"),
      bootSeconds: (Date.now() - started) / 1000,
      real: {
        gateway: net.gateway, bridge: net.bridge, gitPort, gitTls, apiPort,
        kanikoImage: `${nodeRegistry.host}/${IMAGES.kaniko}`, baseImage: `${nodeRegistry.host}/${IMAGES.busybox}`,
      },
    };
    await prepareBuildNamespace(cp, info);
    return { info, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function nodeReady(server: string, token: string, ca: string): Promise<boolean> {
  const response = await api(server, token, ca, "/api/v1/nodes/localhost");
  if (!response.ok) return false;
  const node = response.json() as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function readLayout(dir: string): Layout | undefined {
  const file = join(dir, "real-node.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) as Layout : undefined;
}

/**
 * Leaves the machine as found. Order matters: the kubelet must stop pods first (CNI teardown
 * happens when it stops a sandbox), containerd goes before its shims, the network and cgroups go
 * last, once no process uses them. Safe to run twice and after a failed boot.
 */
export async function tearDownRealNode(dir: string): Promise<void> {
  const started = Date.now();
  const layout = readLayout(dir);
  if (!layout) return;
  await deleteWorkloads(dir);
  await stopAll(join(dir, DIRS.kubelet), ["kubelet"]);
  await removeAllContainers(layout.containerdSocket);
  await stopAll(join(dir, DIRS.containerd), ["containerd"]);
  await killLeftoverShims(layout.containerdSocket);
  await stopAll(join(dir, DIRS.cluster), [...CONTROL_PLANE].reverse());
  await stopAll(dir, ["registry"]);
  unmountUnder(dir);
  tearDownPodNetwork(layout.net);
  const state = savedHostState(dir);
  if (state) await restoreHostState(dir, state);
  // Images, layers and etcd data are most of a run's 150 MB; logs and the git repositories stay
  // for a post-mortem. Only with nothing mounted any more: rm would reach into a live mount.
  if (mountsUnder(dir).length === 0) {
    for (const heavy of [join(DIRS.containerd, "root"), "registry-data", join(DIRS.cluster, "etcd-data")]) rmSync(join(dir, heavy), { recursive: true, force: true });
  }
  lap(started, "torn down");
}

/** Pods get a one-second grace period: busybox httpd as PID 1 ignores SIGTERM. */
async function deleteWorkloads(dir: string): Promise<void> {
  const kubeconfig = join(dir, DIRS.cluster, "admin.kubeconfig");
  if (!running(join(dir, DIRS.kubelet), "kubelet") || !running(join(dir, DIRS.cluster), "kube-apiserver")) return;
  const kubectl = (...args: string[]) => execFileSync(toolPath("kubectl"), ["--kubeconfig", kubeconfig, "--request-timeout=10s", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  try {
    kubectl("delete", "deployments,replicasets,statefulsets,daemonsets,jobs,pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=false");
    const deadline = Date.now() + 60_000;
    while (kubectl("get", "pods", "--all-namespaces", "-o", "name").trim() !== "" && Date.now() < deadline) await sleep(500);
  } catch (error) {
    // containerd's sweep below still stops every container; the kubelet just did not get to do it cleanly.
    console.warn(`deleting workloads before teardown failed: ${(error as Error).message.split("\n")[0]}`);
  }
}

function running(dir: string, name: string): boolean {
  const file = join(dir, `${name}.pid`);
  if (!existsSync(file)) return false;
  return commandLine(Number(readFileSync(file, "utf8"))).includes(dir);
}

/** Everything a torn-down run may have left on the machine; empty when clean. */
export function realNodeLeftovers(dir: string): string[] {
  const layout = readLayout(dir);
  const state = savedHostState(dir);
  const left: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number)) {
    if (pid === process.pid) continue;
    const args = commandLine(pid);
    if (args.includes(`${dir}/`) || linkUnder(`/proc/${pid}/exe`, dir) || linkUnder(`/proc/${pid}/cwd`, dir)) left.push(`process ${pid}: ${args.slice(0, 160)}`);
  }
  if (layout) {
    if (bridgeExists(layout.net.bridge)) left.push(`bridge ${layout.net.bridge}`);
    for (const { table, rule } of taggedRules(layout.net.tag)) left.push(`iptables -t ${table} ${rule}`);
  }
  if (state) left.push(...hostLeftovers(dir, state));
  return left;
}

function linkUnder(link: string, dir: string): boolean {
  try {
    return readlinkSync(link).startsWith(`${dir}/`);
  } catch {
    return false;
  }
}
