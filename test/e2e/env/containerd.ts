import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PodNetwork } from "./network.ts";
import { alive, commandLine, type Started, startProcess, sleep, waitFor } from "./processes.ts";

export interface Containerd {
  readonly socket: string;
  readonly started: Started;
}

/**
 * The node's registry as pods and containerd name it (gateway:port), plain HTTP, with the
 * registry's credentials. Pull credentials live on the node, as a node's own registry credential
 * would: the Kaniko Job ci-runner creates carries no imagePullSecrets, and the sandbox image is
 * pulled by containerd itself, so a Secret in the pod spec could not cover either.
 */
export interface NodeRegistry {
  readonly host: string;
  readonly user: string;
  readonly password: string;
}

/** containerd with the CRI plugin, its state and sockets in `dir`, pods on `net`'s bridge. */
export async function startContainerd(dir: string, net: PodNetwork, registry: NodeRegistry): Promise<Containerd> {
  for (const sub of ["root", "state", "certs.d", "cni", "runc"]) mkdirSync(join(dir, sub), { recursive: true });
  const socket = join(dir, "containerd.sock");
  const hostDir = join(dir, "certs.d", registry.host);
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, "hosts.toml"), `server = "http://${registry.host}"\n[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n`);
  writeFileSync(join(dir, "cni", "10-ci-runner-e2e.conflist"), JSON.stringify({
    cniVersion: "1.0.0", name: "ci-runner-e2e",
    plugins: [
      // ipMasq false: pod traffic is never NATed out; the FORWARD rules drop it before it could leave.
      { type: "bridge", bridge: net.bridge, isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: "host-local", dataDir: join(dir, "ipam"), ranges: [[{ subnet: net.subnet, gateway: net.gateway }]] } },
      { type: "loopback" },
    ],
  }, null, 2));
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  writeFileSync(join(dir, "config.toml"), `version = 2
root = "${join(dir, "root")}"
state = "${join(dir, "state")}"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = "${join(dir, "debug.sock")}"
[metrics]
  address = ""
[${cri}]
  sandbox_image = "${registry.host}/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # root here lacks CAP_SYS_RESOURCE: the sandbox's negative oom_score_adj would make runc init fail
  restrict_oom_score_adj = true
  # keeps network namespaces out of /run/netns, so the sweep of mounts under our folder finds them
  netns_mounts_under_state_dir = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${join(dir, "runc")}"
  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(dir, "cni")}"
  [${cri}.registry]
    config_path = "${join(dir, "certs.d")}"
    [${cri}.registry.configs."${registry.host}".auth]
      username = "${registry.user}"
      password = "${registry.password}"
`, { mode: 0o600 });
  const started = startProcess(dir, "containerd", "containerd", ["--config", join(dir, "config.toml")]);
  await waitFor("containerd's socket", async () => existsSync(socket) && ctrOk(socket), started, 30_000);
  return { socket, started };
}

function ctr(socket: string, namespace: string, ...args: string[]): string {
  return execFileSync("ctr", ["-a", socket, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000 });
}

function ctrOk(socket: string): boolean {
  try {
    ctr(socket, "k8s.io", "version");
    return true;
  } catch {
    return false;
  }
}

/** Kills and removes every task and container containerd still has (the kubelet is already stopped). */
export async function removeAllContainers(socket: string): Promise<void> {
  if (!existsSync(socket) || !ctrOk(socket)) return;
  for (const namespace of ["k8s.io", "default"]) {
    const tasks = () => ctr(socket, namespace, "tasks", "ls", "-q").split("\n").filter(Boolean);
    for (const task of tasks()) tryCtr(socket, namespace, "tasks", "kill", "-s", "SIGKILL", task);
    for (let i = 0; i < 20 && tasks().length > 0; i++) {
      for (const task of tasks()) tryCtr(socket, namespace, "tasks", "rm", "-f", task);
      await sleep(250);
    }
    for (const container of ctr(socket, namespace, "containers", "ls", "-q").split("\n").filter(Boolean)) tryCtr(socket, namespace, "containers", "rm", container);
  }
}

function tryCtr(socket: string, namespace: string, ...args: string[]): void {
  try {
    ctr(socket, namespace, ...args);
  } catch {
    // gone meanwhile
  }
}

/**
 * Shims outlive containerd by design. Ours name our socket on their command line; their children
 * are the containers' first processes, and killing a pid namespace's first process ends the rest.
 */
export async function killLeftoverShims(socket: string): Promise<void> {
  const all = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number);
  const shims = all.filter((pid) => {
    const args = commandLine(pid);
    return args.includes("containerd-shim") && args.includes(`-address ${socket} `);
  });
  for (const shim of shims) {
    for (const child of all.filter((pid) => parentOf(pid) === shim)) signal(child, "SIGKILL");
    signal(shim, "SIGTERM");
  }
  const deadline = Date.now() + 5_000;
  while (shims.some(alive) && Date.now() < deadline) await sleep(100);
  for (const shim of shims.filter(alive)) signal(shim, "SIGKILL");
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already exited
  }
}
