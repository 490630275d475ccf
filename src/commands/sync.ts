import { setTimeout as sleep } from "node:timers/promises";
import { EXIT_CODES, type ExitCode, exitCodeFor } from "../errors.ts";
import type { Logger } from "../log.ts";
import { runPass } from "../reconcile/pass.ts";
import type { PassOutcome } from "../reconcile/types.ts";
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
 * After a pass that deployed, `sync --once` looks at the head once more, at most this many times.
 * A push that landed while it worked then runs now, not a whole schedule period later.
 */
export const FOLLOW_UPS = 3;

/**
 * `sync --once` is the CronJob's entry point: one pass (and its follow-ups), then exit. Without
 * --once the pass repeats every interval until SIGTERM; each pass is the same stateless pass.
 */
export async function runSync(runtime: Runtime, log: Logger, options: SyncOptions): Promise<ExitCode> {
  if (options.once) return exitCodeOf(await passAndFollowUps(runtime, log, options.stop));
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

/**
 * A tick started for a push (`ci-runner receive`) while this one held the lease exits at once,
 * leaving the push to us. So after a pass that deployed, and after its lease is released, the head
 * is read again: an unchanged head is a 304 that costs no rate limit. Any run that reads the head
 * after our release is either us, or holds the lease and reads the head itself: no push waits for
 * the schedule. The exit code is the last pass's.
 */
async function passAndFollowUps(runtime: Runtime, log: Logger, stop: AbortSignal): Promise<PassOutcome> {
  let outcome = await runPass(runtime);
  for (let i = 0; i < FOLLOW_UPS && outcome.kind === "deployed" && !stop.aborted; i++) {
    log.info({ deployed: outcome.sha }, "Looking at the branch head once more before exiting");
    const next = await runPass(runtime);
    if (next.kind === "up-to-date") break;
    outcome = next;
  }
  return outcome;
}
