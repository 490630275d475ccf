import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";

/** Debian's prometheus-pushgateway (scripts/host-tools.sh installs it), on a free loopback port. */
export async function startPushgateway(): Promise<{ url: string; metrics(): Promise<string>; close(): Promise<void> }> {
  const bin = execFileSync("sh", ["-c", "command -v prometheus-pushgateway"], { encoding: "utf8" }).trim();
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (tries > 100) throw new Error("the Pushgateway did not become ready in 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    close: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
