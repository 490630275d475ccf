import type { Evidence } from "./reconcile/types.ts";

/**
 * Errors are classified by what the next tick should do, never by message text. One map turns a
 * class into an exit code (`exitCodeFor`); the CLI's boundary (cli.ts, and sync's loop) uses it,
 * and commands/outcome.ts maps a pass's outcome onto the same codes.
 */

/** What the next tick should do about an error. A set-aside commit is an outcome, not an error. */
export type ErrorKind = "config" | "transient" | "internal";

export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  config: 2,
  transient: 3,
  stalled: 4,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Base class: `message` is one line naming what failed on which input; `remedy` says what to do. */
export class RunnerError extends Error {
  readonly kind: ErrorKind;
  readonly remedy: string | undefined;
  constructor(kind: ErrorKind, message: string, remedy?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.remedy = remedy;
  }
}

/** Bad input: the user must fix configuration or the cluster; retrying as is will fail again. */
export class ConfigError extends RunnerError {
  readonly problems: readonly string[];
  constructor(message: string, remedy?: string, problems: readonly string[] = []) {
    super("config", message, remedy);
    this.problems = problems;
  }
}

/** The world was briefly unavailable (network, 5xx, a conflicting write): the next tick retries. */
export class TransientError extends RunnerError {
  constructor(message: string, remedy?: string, options?: { cause?: unknown }) {
    super("transient", message, remedy, options);
  }
}

/** A CAS write lost against another run: re-observe; the next pass or tick sees the winner's state. */
export class ConflictError extends TransientError {}

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof RunnerError) return EXIT_CODES[error.kind];
  return EXIT_CODES.internal;
}

/** What a failed deploy learned, carried with its failure to the receivers. */
export interface AttemptDetails {
  /** helm's atomic rollback ran: the release is back at the revision before this attempt. */
  readonly rolledBack?: boolean;
  readonly evidence?: Evidence | undefined;
}

/**
 * This attempt of the commit failed (the build or helm rejected it). The pass records it against
 * MAX_RETRIES; it only escapes a pass as a bug.
 */
export class AttemptFailure extends RunnerError {
  readonly details: AttemptDetails;
  constructor(message: string, details: AttemptDetails = {}) {
    super("transient", message, "the next tick tries again until MAX_RETRIES, then sets the commit aside");
    this.details = details;
  }
}

/** Another run holds the lease; this run must not build or deploy. */
export class LeaseLost extends TransientError {}
