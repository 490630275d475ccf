import type { Logger } from "../../log.ts";
import { TIMEOUTS } from "../http/timeouts.ts";
import type { Reporter, Transition } from "../../reconcile/ports.ts";

/** A receiver, named in the warning when it fails. */
export type NamedReporter = Reporter & { readonly name: string };

/**
 * Tells every configured receiver, at once and each on its own: one that fails or hangs is
 * logged and left behind, never failing the pass (the deploy matters more than its report).
 */
export function allReporters(receivers: readonly NamedReporter[], log: Logger): Reporter {
  return {
    async report(transition: Transition) {
      await Promise.all(receivers.map(async (receiver) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), TIMEOUTS.receiverMs);
          timer.unref();
        });
        try {
          const result = await Promise.race([receiver.report(transition), late]);
          if (result === "late") log.warn({ receiver: receiver.name, transition: transition.kind }, "A receiver did not answer in time; the pass goes on");
        } catch (error) {
          // The error's one line, like every other warning: adapters throw translated errors naming
          // what they tried (and, when refused, the permission), never a raw response.
          log.warn({ receiver: receiver.name, transition: transition.kind, error: error instanceof Error ? error.message : String(error) }, "Could not report a transition; the pass goes on");
        } finally {
          clearTimeout(timer);
        }
      }));
    },
  };
}
