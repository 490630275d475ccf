import { execa } from "execa";
import type { Secrets } from "../log.ts";

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The command that could not be started (ENOENT...), as one line. */
  readonly startError?: string | undefined;
}

export type Exec = (file: string, args: readonly string[], options?: { cwd?: string; timeoutMs?: number; env?: Record<string, string> }) => Promise<ExecResult>;

/**
 * Runs a child with exactly the environment we give it (never our own, which may hold GIT_TOKEN),
 * and returns its output scrubbed of every known secret. Never throws for a non-zero exit.
 */
export function createExec(baseEnv: Readonly<Record<string, string>>, secrets: Secrets): Exec {
  return async (file, args, options = {}) => {
    const result = await execa(file, [...args], {
      cwd: options.cwd,
      env: { ...baseEnv, ...options.env },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      timeout: options.timeoutMs,
      killSignal: "SIGTERM",
      forceKillAfterDelay: 10_000,
    });
    const notStarted = result.failed && result.exitCode === undefined;
    return {
      exitCode: result.exitCode ?? -1,
      stdout: secrets.scrub(String(result.stdout ?? "")),
      stderr: secrets.scrub(String(result.stderr ?? "")),
      startError: notStarted ? secrets.scrub(result.shortMessage ?? "") : undefined,
    };
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
