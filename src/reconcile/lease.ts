import type { Lease, RunnerState } from "./types.ts";

/**
 * The lease lives in the state ConfigMap and is taken and renewed with compare-and-swap, so a laptop
 * `sync --once` and the CronJob never build or deploy at once. It is short and renewed while a run
 * works, so the tick after a killed run finds it expired and finishes the work.
 */

export type LeaseView = { readonly kind: "free" } | { readonly kind: "ours" } | { readonly kind: "busy"; readonly lease: Lease };

export function viewLease(state: RunnerState, holder: string, now: Date): LeaseView {
  const lease = state.lease;
  if (lease === undefined || Date.parse(lease.expiresAt) <= now.getTime()) return { kind: "free" };
  if (lease.holder === holder) return { kind: "ours" };
  return { kind: "busy", lease };
}

export function withLease(state: RunnerState, holder: string, now: Date, seconds: number): RunnerState {
  return { ...state, lease: { holder, expiresAt: new Date(now.getTime() + seconds * 1000).toISOString() } };
}

export function withoutLease(state: RunnerState): RunnerState {
  const { lease: _dropped, ...rest } = state;
  return rest;
}
