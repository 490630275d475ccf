import type { Transition } from "../reconcile/ports.ts";
import type { DeployNotes } from "./deploy-notes.ts";

/** What a failed attempt was, for a receiver: the transition plus what the deploy adapter noted. */
export type FailureKind = "build-failed" | "deploy-failed" | "rolled-back";

export function failureKind(t: Extract<Transition, { kind: "attempt-failed" }>, notes: DeployNotes | undefined): FailureKind {
  if (t.phase === "build") return "build-failed";
  return notes?.find(t.sha)?.rolledBack ? "rolled-back" : "deploy-failed";
}

export function short(sha: string): string {
  return sha.slice(0, 12);
}

/** One line, at most `max` characters (GitHub's status description takes 140). */
export function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

export function seconds(value: number | undefined): string {
  return value === undefined ? "" : ` in ${Math.round(value)}s`;
}
