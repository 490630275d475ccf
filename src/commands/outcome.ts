import { EXIT_CODES, type ExitCode } from "../errors.ts";
import type { PassOutcome } from "../reconcile/types.ts";

/** How a pass's outcome reads as an exit code: see the table in README.md. */
export function exitCodeOf(outcome: PassOutcome): ExitCode {
  switch (outcome.kind) {
    case "up-to-date":
    case "deployed":
    case "lease-busy":
    case "release-busy":
    case "skipped":
    case "waiting":
      return EXIT_CODES.ok;
    case "attempt-failed":
      return EXIT_CODES.transient;
    case "set-aside":
      return EXIT_CODES.stalled;
  }
}
