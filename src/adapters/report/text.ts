import type { Transition } from "../../reconcile/ports.ts";

/** What a failed attempt was, for a receiver: build, deploy, or a deploy that helm rolled back. */
export type FailureKind = "build-failed" | "deploy-failed" | "rolled-back";

export function failureKind(t: Extract<Transition, { kind: "attempt-failed" }>): FailureKind {
  if (t.phase === "build") return "build-failed";
  return t.rolledBack ? "rolled-back" : "deploy-failed";
}

export function seconds(value: number | undefined): string {
  return value === undefined ? "" : ` in ${Math.round(value)}s`;
}
