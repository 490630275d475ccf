import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * What the real node changes outside its own folder, recorded before boot so that teardown puts
 * back exactly that: containerd 1.6, the CNI plugins, the kubelet and buildah write to hard-coded
 * host paths whatever their flags say, and the kubelet and runc create cgroups.
 */
export interface HostState {
  readonly ipForward: string;
  /** The topmost missing folder of each hard-coded path: removed on teardown. */
  readonly absentPaths: string[];
  readonly absentCgroups: string[];
}

const HARD_CODED_PATHS = [
  "/run/containerd/s", // shim sockets
  "/run/containerd/fifo",
  "/var/lib/cni/results",
  "/var/lib/kubelet/device-plugins", // the kubelet ignores --root-dir here
  "/etc/cni/net.d/cni.lock",
  "/var/lib/containers/cache", // buildah's blob-info cache
  "/var/log/containers", // the kubelet's symlinks to container logs, whatever podLogsDir says
  "/var/log/pods",
  "/run/netns", // unused with netns_mounts_under_state_dir; watched in case that changes
];

const CGROUP_ROOT = "/sys/fs/cgroup";
const CGROUP_NAMES = ["kubepods", "k8s.io"];

export function ipForward(): string {
  return readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
}

function topmostAbsent(path: string): string | undefined {
  if (existsSync(path)) return undefined;
  let top = path;
  while (!existsSync(dirname(top))) top = dirname(top);
  return top;
}

function cgroupCandidates(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const hierarchies = readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h)).filter((h) => statSync(h).isDirectory());
  return hierarchies.flatMap((h) => CGROUP_NAMES.map((n) => join(h, n)));
}

/** Writes `<dir>/host.json` unless it exists: a retried boot must not record its own leftovers as the host's. */
export function recordHostState(dir: string): HostState {
  const file = join(dir, "host.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as HostState;
  const state: HostState = {
    ipForward: ipForward(),
    absentPaths: [...new Set(HARD_CODED_PATHS.map(topmostAbsent).filter((p) => p !== undefined))],
    absentCgroups: cgroupCandidates().filter((c) => !existsSync(c)),
  };
  writeFileSync(file, JSON.stringify(state, null, 2));
  return state;
}

/** The state recorded at boot, before or after it was restored. */
export function savedHostState(dir: string): HostState | undefined {
  const file = [join(dir, "host.json"), join(dir, "host.restored.json")].find((f) => existsSync(f));
  return file ? JSON.parse(readFileSync(file, "utf8")) as HostState : undefined;
}

/** Puts back ip_forward and removes what the run created; the processes must be gone by now. */
export async function restoreHostState(dir: string, state: HostState): Promise<void> {
  if (ipForward() !== state.ipForward) writeFileSync("/proc/sys/net/ipv4/ip_forward", state.ipForward);
  for (const path of state.absentPaths) rmSync(path, { recursive: true, force: true });
  // A cgroup is removable only once its last process has exited, which lags the kill a little.
  for (let attempt = 0; attempt < 50; attempt++) {
    if (state.absentCgroups.every((c) => removeCgroup(c))) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Kept under another name for hostLeftovers; the next boot records afresh.
  if (existsSync(join(dir, "host.json"))) renameSync(join(dir, "host.json"), join(dir, "host.restored.json"));
}

/** rmdir depth first (a cgroup folder cannot be deleted recursively); true once it is gone. */
function removeCgroup(path: string): boolean {
  if (!existsSync(path)) return true;
  for (const child of readdirSync(path, { withFileTypes: true })) {
    if (child.isDirectory()) removeCgroup(join(path, child.name));
  }
  try {
    rmdirSync(path);
  } catch {
    return false;
  }
  return true;
}

/** Mounts under `dir` (netns, overlay snapshots, pod volumes), deepest first, lazily unmounted. */
export function unmountUnder(dir: string): void {
  for (const mount of mountsUnder(dir).sort((a, b) => b.length - a.length)) {
    try {
      execFileSync("umount", ["-l", mount], { stdio: "ignore" });
    } catch {
      // already gone with its parent
    }
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8").split("\n")
    .map((line) => (line.split(" ")[1] ?? "").replaceAll("\\040", " "))
    .filter((path) => path.startsWith(`${dir}/`));
}

/** What is left of a run on the host compared with the recorded state; empty when clean. */
export function hostLeftovers(dir: string, state: HostState): string[] {
  const left: string[] = [];
  if (ipForward() !== state.ipForward) left.push(`net.ipv4.ip_forward is ${ipForward()}, was ${state.ipForward}`);
  for (const path of state.absentPaths) if (existsSync(path)) left.push(`host path ${path} (absent before boot)`);
  for (const cgroup of state.absentCgroups) if (existsSync(cgroup)) left.push(`cgroup ${cgroup}`);
  for (const mount of mountsUnder(dir)) left.push(`mount ${mount}`);
  return left;
}
