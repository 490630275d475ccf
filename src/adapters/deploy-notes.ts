/** What the failing pods showed before helm's rollback removed them. */
export interface Evidence {
  /** One line for the state's lastError, a GitHub status and a notification. */
  readonly summary: string;
  readonly pods: readonly PodEvidence[];
}

export interface PodEvidence {
  readonly pod: string;
  /** e.g. "app: waiting CrashLoopBackOff, last exit code 3 (Error), 4 restarts" or "app: running, not ready". */
  readonly containers: readonly string[];
  /** Recent Events of the pod, newest last: "Unhealthy: Readiness probe failed: ... (x12)". */
  readonly events: readonly string[];
  /** The last lines the failing container wrote (of its previous run when it restarted). */
  readonly logTail: readonly string[];
}

export interface DeployNote {
  /** helm's atomic rollback ran: the release is back at the revision before this attempt. */
  readonly rolledBack: boolean;
  readonly evidence: Evidence | undefined;
}

/**
 * What the deploy adapter learned about a failed attempt that the transition does not carry:
 * whether helm rolled back, and the evidence kept before it did. Held for this process only;
 * receivers read it when they tell an attempt-failed of the deploy phase (same pass, same process).
 */
export class DeployNotes {
  readonly #bySha = new Map<string, DeployNote>();

  record(sha: string, note: DeployNote): void {
    this.#bySha.set(sha, note);
  }

  find(sha: string): DeployNote | undefined {
    return this.#bySha.get(sha);
  }
}
