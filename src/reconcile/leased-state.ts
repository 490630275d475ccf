import { ConflictError, LeaseLost } from "../errors.ts";
import type { Logger } from "../log.ts";
import { viewLease, withLease, withoutLease } from "./lease.ts";
import type { Clock, StateStore } from "./ports.ts";
import type { RunnerState, StateSnapshot } from "./types.ts";

/**
 * The state while this run holds the lease: every write is compare-and-swap, serialized in-process
 * (the heartbeat and the pass never race each other), and refused once the lease is no longer ours.
 *
 * The lease is a fence, as in client-go's leader election: it is renewed every quarter of its
 * duration, and when no renewal has succeeded for three quarters of it, `fence` aborts. Everything
 * that acts (the build wait, helm) listens to that signal and stops, so the run never acts after
 * another run could have taken the lease.
 */
export class LeasedState {
  #snapshot: StateSnapshot;
  readonly #fence = new AbortController();
  #fenceTimer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #store: StateStore;
  readonly #holder: string;
  readonly #clock: Clock;
  readonly #seconds: number;

  private constructor(store: StateStore, holder: string, clock: Clock, seconds: number, snapshot: StateSnapshot) {
    this.#store = store;
    this.#holder = holder;
    this.#clock = clock;
    this.#seconds = seconds;
    this.#snapshot = snapshot;
    this.#armFence();
  }

  /**
   * Takes the lease, or returns the lease that blocks us. `prepare` adds changes that ride along on
   * the same write (the remembered branch head).
   */
  static async acquire(
    store: StateStore, holder: string, clock: Clock, seconds: number, snapshot: StateSnapshot,
    prepare: (state: RunnerState) => RunnerState = (s) => s,
  ): Promise<LeasedState | { busy: { holder: string; expiresAt: string } }> {
    const view = viewLease(snapshot.state, holder, clock.now());
    if (view.kind === "busy") return { busy: view.lease };
    try {
      const next = await store.write(withLease(prepare(snapshot.state), holder, clock.now(), seconds), snapshot.resourceVersion);
      return new LeasedState(store, holder, clock, seconds, next);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Another run wrote between our read and our write: it most likely took the lease.
      const fresh = await store.read();
      const again = viewLease(fresh.state, holder, clock.now());
      if (again.kind === "busy") return { busy: again.lease };
      throw error;
    }
  }

  get state(): RunnerState {
    return this.#snapshot.state;
  }

  /** Applies `change` with compare-and-swap; on a conflict re-reads once and re-applies if the lease is still ours. */
  update(change: (state: RunnerState) => RunnerState): Promise<void> {
    return this.#serial(() => this.#write(change));
  }

  /**
   * Gives the lease back (best effort: an expired lease frees itself anyway). Not once fenced: the
   * writes that could not renew it may still be pending, and the lease is as good as gone.
   */
  async release(): Promise<void> {
    if (this.#fence.signal.aborted) return;
    return this.#serial(() => this.#write(withoutLease));
  }

  /** Aborts (with LeaseLost as its reason) once the lease can no longer be trusted to be ours. */
  get fence(): AbortSignal {
    return this.#fence.signal;
  }

  /** Throws LeaseLost when the fence has tripped: call before every step that acts. */
  assertHeld(): void {
    if (this.#fence.signal.aborted) throw this.#fence.signal.reason;
  }

  /** Renews the lease every quarter of its duration until the returned function is called. */
  startHeartbeat(log: Logger): () => void {
    const onFence = () => log.error({ error: (this.#fence.signal.reason as Error).message }, "Stopped acting: the lease could not be renewed in time");
    this.#fence.signal.addEventListener("abort", onFence, { once: true });
    const timer = setInterval(() => {
      if (this.#fence.signal.aborted) return;
      this.update((s) => s).catch((error: unknown) => log.warn({ err: error }, "Could not renew the lease"));
    }, (this.#seconds * 1000) / 4);
    timer.unref();
    return () => {
      clearInterval(timer);
      clearTimeout(this.#fenceTimer);
      this.#fence.signal.removeEventListener("abort", onFence);
    };
  }

  /** A quarter of the lease before it expires: what acts after the fence has that long to stop. */
  get fenceMarginMs(): number {
    return this.#seconds * 250;
  }

  /**
   * (Re)starts the countdown to the fence after every successful write of the lease. It counts
   * from the expiry that write recorded, not from when the write returned: a slow renewal must not
   * push the fence past the lease.
   */
  #armFence(): void {
    clearTimeout(this.#fenceTimer);
    if (this.#fence.signal.aborted) return;
    const expiresAt = this.#snapshot.state.lease?.expiresAt;
    const untilExpiry = expiresAt === undefined ? this.#seconds * 1000 : Date.parse(expiresAt) - this.#clock.now().getTime();
    this.#fenceTimer = setTimeout(() => {
      this.#fence.abort(new LeaseLost(
        `the lease on the state ConfigMap was not renewed for ${Math.round(this.#seconds * 0.75)}s; this run stopped acting before it could expire`,
        "check the API server's health; the next tick takes the lease and continues the work",
      ));
    }, Math.max(0, untilExpiry - this.fenceMarginMs));
    this.#fenceTimer.unref();
  }

  async #write(change: (state: RunnerState) => RunnerState): Promise<void> {
    for (let tries = 0; ; tries++) {
      this.assertHeld();
      const current = this.#snapshot;
      this.#assertOurs(current.state);
      const next = change(current.state);
      const leased = next.lease === undefined ? next : withLease(next, this.#holder, this.#clock.now(), this.#seconds);
      try {
        this.#snapshot = await this.#store.write(leased, current.resourceVersion);
        if (leased.lease !== undefined) this.#armFence();
        return;
      } catch (error) {
        if (!(error instanceof ConflictError) || tries > 0) throw error;
        // Someone else wrote (e.g. `ci-runner retry`): take their state and apply our change to it.
        this.#snapshot = await this.#store.read();
      }
    }
  }

  #assertOurs(state: RunnerState): void {
    const view = viewLease(state, this.#holder, this.#clock.now());
    if (view.kind === "ours") return;
    const who = view.kind === "busy" ? `now held by ${view.lease.holder}` : "expired";
    throw new LeaseLost(`the lease on the state ConfigMap is ${who}; this run stopped before acting`, "nothing to do: the run holding the lease continues the work");
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
