import { setTimeout as sleep } from "node:timers/promises";
import { EXIT_CODES, type ExitCode, exitCodeFor } from "../errors.ts";
import type { Logger } from "../log.ts";
import { runPass } from "../reconcile/pass.ts";
import type { Runtime } from "../wiring/runtime.ts";
import { exitCodeOf } from "./outcome.ts";

export interface SyncOptions {
  readonly once: boolean;
  readonly intervalSeconds: number;
  /** Aborted on SIGTERM/SIGINT: the current pass finishes, no new one starts. */
  readonly stop: AbortSignal;
  /** Waits between passes; resolves early when `signal` aborts. Tests count the passes with it. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function interruptibleSleep(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * `sync --once` is the CronJob's entry point: one pass, then exit. Without --once the pass repeats
 * every interval until SIGTERM; each pass is the same stateless pass a tick would run.
 */
export async function runSync(runtime: Runtime, log: Logger, options: SyncOptions): Promise<ExitCode> {
  if (options.once) return exitCodeOf(await runPass(runtime));
  let code: ExitCode = 0;
  while (!options.stop.aborted) {
    try {
      code = exitCodeOf(await runPass(runtime));
    } catch (error) {
      code = exitCodeFor(error);
      log.error({ err: error, remedy: (error as { remedy?: string }).remedy }, "Pass failed; trying again after the interval");
      if (code === EXIT_CODES.internal) throw error;
    }
    await (options.sleep ?? interruptibleSleep)(options.intervalSeconds * 1000, options.stop);
  }
  log.info("Stopped after a signal");
  return code;
}
