import { execa } from "execa";
import type { Secrets } from "../log.ts";

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The command that could not be started (ENOENT...), as one line. */
  readonly startError?: string | undefined;
  /** It ran past its timeout and was stopped. */
  readonly timedOut?: boolean;
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  /**
   * When a `signal` aborts, the child gets SIGTERM and time to finish what it does on SIGTERM (helm
   * rolls back); after that entry's `killAfterMs`, if given, SIGKILL. The timeout still applies.
   */
  readonly terminate?: readonly Termination[];
}

export interface Termination {
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
}

export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/**
 * Runs a child with exactly the environment we give it (never our own, which may hold GIT_TOKEN),
 * and returns its output scrubbed of every known secret. Never throws for a non-zero exit.
 */
export function createExec(baseEnv: Readonly<Record<string, string>>, secrets: Secrets): Exec {
  return async (file, args, options = {}) => {
    const child = execa(file, [...args], {
      cwd: options.cwd,
      env: { ...baseEnv, ...options.env },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      timeout: options.timeoutMs,
      killSignal: "SIGTERM",
      forceKillAfterDelay: 10_000,
    });
    const stops = (options.terminate ?? []).map((t) => terminateOnAbort(child, t));
    const result = await child.finally(() => stops.forEach((stop) => stop()));
    const notStarted = result.failed && result.exitCode === undefined;
    return {
      exitCode: result.exitCode ?? -1,
      stdout: secrets.scrub(String(result.stdout ?? "")),
      stderr: secrets.scrub(String(result.stderr ?? "")),
      startError: notStarted ? secrets.scrub(result.shortMessage ?? "") : undefined,
      timedOut: result.timedOut === true,
    };
  };
}

/** SIGTERM on abort, sent directly so execa's forced kill does not cut a graceful stop short. */
function terminateOnAbort(child: { pid?: number | undefined }, terminate: Termination): () => void {
  let killTimer: NodeJS.Timeout | undefined;
  const send = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onAbort = () => {
    send("SIGTERM");
    if (terminate.killAfterMs !== undefined) killTimer = setTimeout(() => send("SIGKILL"), terminate.killAfterMs);
  };
  if (terminate.signal.aborted) onAbort();
  else terminate.signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    clearTimeout(killTimer);
    terminate.signal.removeEventListener("abort", onAbort);
  };
}

/**
 * The part of a tool's stderr worth keeping: from its first "Error:" line on (Go tools print the
 * details of "1 error occurred:" on the lines after it), else its last two lines; never its whole
 * output.
 */
export function errorSummary(stderr: string, maxLength = 400): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const first = lines.findIndex((l) => /^error:/i.test(l));
  const chosen = (first >= 0 ? lines.slice(first) : lines.slice(-2)).join(" | ");
  return chosen.length > maxLength ? `${chosen.slice(0, maxLength)}…` : chosen || "(no error output)";
}
