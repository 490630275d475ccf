import { execFileSync } from "node:child_process";

/**
 * The real node's pod network: a bridge the run creates, whose gateway address stands for the
 * host's loopback listeners. Pods' traffic never leaves the machine: nothing is forwarded between
 * the bridge and any other interface, and pods reach the host only on the ports DNAT'd to
 * 127.0.0.1 (route_localnet would otherwise expose every loopback listener to them).
 * Every iptables rule carries `tag` as its comment, so teardown deletes exactly these rules.
 */
export interface PodNetwork {
  readonly bridge: string;
  readonly gateway: string;
  readonly subnet: string;
  readonly tag: string;
}

export function podNetwork(tag: string): PodNetwork {
  return { bridge: "cir0", gateway: "10.244.77.1", subnet: "10.244.77.0/24", tag };
}

function run(file: string, ...args: string[]): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function iptables(table: "filter" | "nat", ...args: string[]): void {
  run("iptables", "-w", "-t", table, ...args);
}

export function bridgeExists(bridge: string): boolean {
  try {
    run("ip", "link", "show", "dev", bridge);
    return true;
  } catch {
    return false;
  }
}

/** Creates the bridge and the safety rules; `ports` are loopback ports pods reach as gateway:port. */
export function setUpPodNetwork(net: PodNetwork, ports: readonly number[]): void {
  if (bridgeExists(net.bridge)) throw new Error(`bridge ${net.bridge} already exists: another real node runs on this machine, or a killed run left it (its teardown removes it)`);
  run("ip", "link", "add", net.bridge, "type", "bridge");
  run("ip", "addr", "add", `${net.gateway}/24`, "dev", net.bridge);
  run("ip", "link", "set", net.bridge, "up");
  run("sysctl", "-qw", `net.ipv4.conf.${net.bridge}.route_localnet=1`);
  const tag = ["-m", "comment", "--comment", net.tag];
  // Inserted first so that no rule of the host's own can accept the traffic before them.
  iptables("filter", "-I", "FORWARD", "1", "-i", net.bridge, "!", "-o", net.bridge, "-j", "DROP", ...tag);
  iptables("filter", "-I", "FORWARD", "1", "!", "-i", net.bridge, "-o", net.bridge, "-j", "DROP", ...tag);
  iptables("filter", "-I", "INPUT", "1", "-i", net.bridge, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP", ...tag);
  for (const port of ports) exposeToPods(net, port);
}

/** Pods (PREROUTING) and host processes such as containerd's pulls (OUTPUT) reach 127.0.0.1:port as gateway:port. */
export function exposeToPods(net: PodNetwork, port: number): void {
  const target = ["-p", "tcp", "-d", net.gateway, "--dport", String(port), "-j", "DNAT", "--to-destination", `127.0.0.1:${port}`, "-m", "comment", "--comment", net.tag];
  iptables("nat", "-A", "PREROUTING", "-i", net.bridge, ...target);
  iptables("nat", "-A", "OUTPUT", ...target);
}

/** Rules carrying `tag`, as `iptables -S` prints them, per table. */
export function taggedRules(tag: string): { table: "filter" | "nat"; rule: string }[] {
  return (["filter", "nat"] as const).flatMap((table) =>
    run("iptables", "-w", "-t", table, "-S").split("\n").filter((line) => splitRule(line).includes(tag) && line.startsWith("-A ")).map((rule) => ({ table, rule })));
}

/** Deletes the tagged rules and the bridge; both may already be gone (a failed boot, a second teardown). */
export function tearDownPodNetwork(net: PodNetwork): void {
  for (const { table, rule } of taggedRules(net.tag)) {
    const [, ...rest] = splitRule(rule);
    iptables(table, "-D", ...rest);
  }
  if (bridgeExists(net.bridge)) run("ip", "link", "del", net.bridge);
}

/** `iptables -S` quotes arguments with spaces; our own rules have none, but the host's may. */
function splitRule(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}
