import type { RunnerState } from "./types.ts";

/**
 * The attempt counter of the state, read in one place: it belongs to one commit, and a counter of
 * another commit counts nothing for this one.
 */

/** Failed attempts so far for `sha` (0 when the counter belongs to another commit). */
export function failuresFor(sha: string, state: RunnerState): number {
  return state.attempts?.sha === sha ? state.attempts.failures : 0;
}

/** The failure count when `ci-runner retry` last granted `sha` new attempts (0 when it never did). */
export function retryBase(sha: string, state: RunnerState): number {
  return state.attempts?.sha === sha ? (state.attempts.since ?? 0) : 0;
}

/** Attempts `sha` has used since it was last granted new ones, counting `failures` of them. */
export function usedSinceRetry(sha: string, state: RunnerState, failures: number): number {
  return failures - retryBase(sha, state);
}
