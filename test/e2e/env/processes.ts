import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * Background processes of the test environment: each writes its log to <dir>/<name>.log and its
 * PID to <dir>/<name>.pid, and is stopped by that PID, never by name.
 */
export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
}

export function startProcess(dir: string, name: string, file: string, args: readonly string[], env: Record<string, string | undefined> = process.env): Started {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn(file, [...args], { detached: true, stdio: ["ignore", fd, fd], env });
  closeSync(fd);
  // A missing binary is reported here, by the throw below, not as an unhandled 'error' event.
  child.on("error", () => undefined);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${file})`);
  child.unref();
  writeFileSync(join(dir, `${name}.pid`), String(child.pid));
  return { name, pid: child.pid, log };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process's command line, or "" once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * Stops every process that has a PID file in `dir`: SIGTERM, then SIGKILL after a grace period.
 * A PID file can outlive its process and the PID be reused, so only a process whose command line
 * names `dir` is signalled. PID files are removed: a second stop is a no-op.
 */
export async function stopAll(dir: string, names: readonly string[]): Promise<void> {
  const files = names.map((n) => join(dir, `${n}.pid`)).filter((f) => existsSync(f));
  const pids = files
    .map((f) => Number(readFileSync(f, "utf8")))
    .filter((pid) => pid > 0 && alive(pid) && commandLine(pid).includes(dir));
  for (const pid of pids) process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
  for (const file of files) rmSync(file, { force: true });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** Waits until `probe` resolves true; on timeout the error carries the log tail of `process`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, started: Started | undefined, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started && !alive(started.pid)) throw new Error(`${started.name} exited while waiting for ${what}; last log lines:\n${tail(started.log)}`);
    if (await probe().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${started ? `; last lines of ${started.log}:\n${tail(started.log)}` : ""}`);
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
