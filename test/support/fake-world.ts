import { ConflictError, AttemptFailure } from "../../src/errors.ts";
import { decodeState, encodeState } from "../../src/adapters/state/codec.ts";
import { buildJobName } from "../../src/names.ts";
import type { BuildRunner, ChartSource, GateSource, ImageRegistry, Ports, ReleaseManager, SourceHost, StateStore, Transition } from "../../src/reconcile/ports.ts";
import type { BuildObservation, ChangeSet, Check, CommitInfo, ReleaseObservation, RunnerState, StateSnapshot } from "../../src/reconcile/types.ts";

/**
 * An in-memory cluster, GitHub, registry and Helm for component tests. Strict: calls that a real
 * peer would refuse (a stale resourceVersion, a wait on a Job that does not exist, a deploy while
 * the release is pending) throw, and every mutating call is recorded for assertions.
 */
export class FakeWorld {
  now = new Date("2026-11-21T12:00:00Z");
  head = sha("a");
  headEtag = `"etag-${this.head}"`;
  githubCalls: { conditional: boolean; notModified: boolean }[] = [];
  /** What the gates may ask GitHub; a question about anything not listed here fails the test. */
  commits = new Map<string, CommitInfo>();
  /** Files changed, keyed `base...head`; a value without a list stands for "too large". */
  compares = new Map<string, ChangeSet>();
  checkRuns = new Map<string, Check[]>();
  statuses = new Map<string, Check[]>();

  state: RunnerState = {};
  /** Annotations as a person left them with kubectl, read through the real codec beside `state`. */
  handEdited: Record<string, string> = {};
  resourceVersion: number | undefined;
  stateWrites = 0;

  jobs = new Map<string, BuildObservation>();
  jobsCreated: string[] = [];
  jobsDeleted: string[] = [];
  /** What the build of a SHA does when awaited: push an image, or fail. */
  buildResult: (sha: string, attempt: number) => "succeed" | "fail" = () => "succeed";
  registry = new Map<string, string>();

  release: ReleaseObservation = { status: "absent" };
  helmDeploys: string[] = [];
  helmRepairs: string[] = [];
  deployResult: (sha: string) => "succeed" | "fail" = () => "succeed";
  /** What `helm test` of the image a release runs does. */
  testResult: (imageTag: string | undefined) => "pass" | "fail" = () => "pass";
  helmTests: (string | undefined)[] = [];
  /** Rollbacks, by the revision asked for. */
  helmRollbacks: number[] = [];
  /** The image tag each revision ran, as Helm's history keeps it. */
  revisions = new Map<number, string | undefined>();
  checkouts = 0;
  /** Every transition reported, in order. */
  transitions: Transition[] = [];
  prefetched: string[] = [];
  disposed = 0;
  /** Every port call in order, for tests that check what was (not) asked. */
  calls: string[] = [];

  setHead(next: string): void {
    this.head = next;
    this.headEtag = `"etag-${next}"`;
  }

  advance(seconds: number): void {
    this.now = new Date(this.now.getTime() + seconds * 1000);
  }

  ports(): Ports {
    return {
      source: this.source(),
      gates: this.gateSource(),
      state: this.store(),
      builds: this.builds(),
      registry: this.imageRegistry(),
      charts: this.charts(),
      releases: this.releases(),
      reporter: { report: async (t) => void this.transitions.push(t) },
      clock: { now: () => this.now },
    };
  }

  source(): SourceHost {
    return {
      branchHead: async (known) => {
        this.calls.push("github.branchHead");
        const notModified = known !== undefined && known.etag === this.headEtag;
        this.githubCalls.push({ conditional: known !== undefined, notModified });
        return { sha: this.head, etag: this.headEtag, notModified };
      },
    };
  }

  gateSource(): GateSource {
    const known = <T>(map: Map<string, T>, key: string, what: string): T => {
      const value = map.get(key);
      if (value === undefined) throw new Error(`fake GitHub: unexpected question about the ${what} of ${key}`);
      return structuredClone(value);
    };
    return {
      commit: async (s) => {
        this.calls.push("github.commit");
        return known(this.commits, s, "message");
      },
      changes: async (base, head) => {
        this.calls.push("github.changes");
        return known(this.compares, `${base}...${head}`, "changes");
      },
      checkRuns: async (s) => {
        this.calls.push("github.checkRuns");
        return known(this.checkRuns, s, "check runs");
      },
      statuses: async (s) => {
        this.calls.push("github.statuses");
        return known(this.statuses, s, "commit statuses");
      },
    };
  }

  store(): StateStore {
    // Every read and write goes through the real annotation codec, as the ConfigMap's would.
    const snapshot = (): StateSnapshot => {
      const { state, warnings } = decodeState({ ...present(encodeState(this.state)), ...this.handEdited });
      return { state, resourceVersion: this.resourceVersion?.toString(), warnings };
    };
    return {
      read: async () => {
        this.calls.push("state.read");
        return snapshot();
      },
      write: async (next, rv) => {
        this.calls.push("state.write");
        if (rv !== this.resourceVersion?.toString()) throw new ConflictError(`stale resourceVersion ${rv}, current ${this.resourceVersion}`);
        // A merge patch of every annotation we own: a hand-edited one is replaced or cleared.
        this.state = decodeState(present(encodeState(next))).state;
        this.handEdited = {};
        this.resourceVersion = (this.resourceVersion ?? 0) + 1;
        this.stateWrites++;
        return snapshot();
      },
    };
  }

  builds(): BuildRunner {
    return {
      find: async (s, attempt) => {
        this.calls.push("builds.find");
        return this.jobs.get(buildJobName("shop", s, attempt));
      },
      start: async ({ sha: s, attempt }) => {
        this.calls.push("builds.start");
        const name = buildJobName("shop", s, attempt);
        if (this.jobs.has(name)) return name; // AlreadyExists, ours: adopted
        this.jobs.set(name, { name, sha: s, attempt, phase: "running" });
        this.jobsCreated.push(name);
        return name;
      },
      wait: async (name, fence) => {
        this.calls.push("builds.wait");
        if (fence.aborted) throw fence.reason;
        const job = this.jobs.get(name);
        if (job === undefined) throw new Error(`fake: wait on missing Job ${name}`);
        if (job.phase !== "running") return;
        if (this.buildResult(job.sha, job.attempt) === "succeed") {
          const digest = `sha256:${job.sha.slice(0, 1).repeat(64)}`;
          this.registry.set(job.sha, digest);
          this.jobs.set(name, { ...job, phase: "succeeded", digest });
        } else {
          this.jobs.set(name, { ...job, phase: "failed", reason: "build pod exited with code 1" });
        }
      },
      remove: async (name) => {
        this.calls.push("builds.remove");
        this.jobs.delete(name);
        this.jobsDeleted.push(name);
      },
      inFlight: async () => [...this.jobs.values()].filter((j) => j.phase === "running"),
      plan: async () => {
        throw new Error("fake: a build plan was not expected (the CLI tests wire the real builder)");
      },
    };
  }

  imageRegistry(): ImageRegistry {
    return {
      digestOf: async (tag) => {
        this.calls.push("registry.digestOf");
        return this.registry.get(tag);
      },
    };
  }

  charts(): ChartSource {
    return {
      checkout: async (s) => {
        this.calls.push("charts.checkout");
        this.checkouts++;
        return { root: `/tmp/checkout-${s}`, chartDir: `/tmp/checkout-${s}/chart`, dispose: async () => void this.disposed++ };
      },
      prefetch: async (s) => void this.prefetched.push(s),
    };
  }

  releases(): ReleaseManager {
    return {
      observe: async () => {
        this.calls.push("helm.observe");
        return this.release;
      },
      repair: async (r) => {
        this.calls.push("helm.repair");
        this.helmRepairs.push(r.status);
        const revision = (this.release.revision ?? 0) + 1;
        this.release = r.status === "pending-install" ? { status: "absent" } : { status: "deployed", revision, imageTag: this.previousTag };
      },
      deploy: async ({ sha: s }, fence) => {
        this.calls.push("helm.deploy");
        if (fence.aborted) throw fence.reason;
        if (this.release.status.startsWith("pending-")) throw new Error("fake helm: another operation is in progress");
        this.helmDeploys.push(s);
        const revision = (this.release.revision ?? 0) + 1;
        if (this.deployResult(s) === "fail") {
          // --atomic: the failed revision is rolled back to the previous one.
          this.release = this.release.status === "absent" ? { status: "absent" } : { ...this.release, revision: revision + 1 };
          throw new AttemptFailure("helm upgrade of shop failed and was rolled back: context deadline exceeded");
        }
        this.previousTag = this.release.imageTag;
        this.release = { status: "deployed", revision, imageTag: s };
        this.revisions.set(revision, s);
        return { revision };
      },
      test: async (fence) => {
        this.calls.push("helm.test");
        if (fence.aborted) throw fence.reason;
        if (this.release.status !== "deployed") throw new Error(`fake helm: helm test of a release that is ${this.release.status}`);
        this.helmTests.push(this.release.imageTag);
        if (this.testResult(this.release.imageTag) === "fail") throw new AttemptFailure("helm test of shop failed: 1 error occurred: pod shop-smoke failed; shop-smoke: \"GET / 500\"");
      },
      rollback: async (to, fence) => {
        this.calls.push("helm.rollback");
        if (fence.aborted) throw fence.reason;
        if (!this.revisions.has(to)) throw new AttemptFailure(`helm rollback of shop to revision ${to} failed: release: not found`);
        this.helmRollbacks.push(to);
        const revision = (this.release.revision ?? 0) + 1;
        this.release = { status: "deployed", revision, imageTag: this.revisions.get(to) };
        this.revisions.set(revision, this.release.imageTag);
      },
      // No fake argv: a test of `plan` wires the real HelmReleases builder, so it checks what helm would run.
      deployArgv: async () => { throw new Error("fake world: deployArgv is the real adapter's; wire HelmReleases (see test/component/cli.test.ts)"); },
    };
  }

  previousTag: string | undefined;
}

/** A 40-hex SHA made of one repeated character. */
export function sha(c: string): string {
  return c.repeat(40);
}

/** The annotations a merge patch would set (a null deletes one). */
function present(annotations: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter((e): e is [string, string] => e[1] !== null));
}
