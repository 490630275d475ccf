import { z } from "zod";
import { AttemptFailure, ConfigError, LeaseLost, TransientError } from "../../errors.ts";
import type { DeployRequest, ReleaseManager } from "../../reconcile/ports.ts";
import type { Evidence, ReleaseObservation, ReleaseStatus } from "../../reconcile/types.ts";
import { evidenceDetails } from "./evidence.ts";
import { errorSummary, type ExecResult } from "../exec.ts";
import { parseJsonOrUndefined } from "../json.ts";
import { chartViolations, type Rendered, renderedObjects } from "./chart-policy.ts";
import { chartDependencies } from "./dependencies.ts";
import { HelmCli, type HelmCliOptions, type HelmMajor } from "./helm-cli.ts";
import { pluck, testLogs } from "./helm-output.ts";

export type { HelmMajor } from "./helm-cli.ts";

export interface HelmOptions extends HelmCliOptions {
  readonly image: string;
  readonly imageRepositoryKey: string;
  readonly imageTagKey: string;
  /**
   * After `helm dependency build`: the chart folder checked again as the checkout was
   * (chart/tree.ts: symlinks, sizes), since the subcharts it fetched are the commit's choice too.
   */
  readonly checkTree?: (chartDir: string) => Promise<string | undefined>;
  /** Service types the chart may create (SERVICE_TYPES); see chart-policy.ts. */
  readonly serviceTypes: readonly string[];
  /**
   * Before anything is applied: what of the rendered chart the deploy identity may not manage, one
   * line each (a new kind its Role lacks, a kind the cluster does not serve). Not the commit's
   * fault: the installation must catch up with the chart (`ci-runner install` again).
   */
  readonly chartRights?: (objects: readonly Rendered[]) => Promise<string[]>;
  /**
   * While helm waits: resolves with the reason the new pods (running `image`) can never become
   * ready, once that is certain, or undefined when `stop` aborts. Lets a crash-looping commit end
   * its attempt in seconds instead of HELM_TIMEOUT.
   */
  readonly watchRollout?: (image: string, stop: AbortSignal) => Promise<string | undefined>;
  /**
   * After the fence, how long helm may take to stop on SIGTERM before SIGKILL: less than what is
   * left of the lease, so nothing of this run acts once another run could hold it.
   */
  readonly fencedGraceMs: number;
  /**
   * What the pods running `image` show while they fail (reasons, Events, last log lines). Read
   * before helm's rollback deletes them: at the early end, and shortly before HELM_TIMEOUT.
   */
  readonly gatherEvidence?: (image: string) => Promise<Evidence | undefined>;
}

/**
 * How long before HELM_TIMEOUT the evidence of a release that never becomes ready is read: late
 * enough that a probe had its chances, early enough that helm has not rolled back yet.
 */
export function evidenceDelayMs(timeoutSeconds: number): number {
  const margin = Math.min(15, Math.max(2, timeoutSeconds * 0.2));
  return (timeoutSeconds - margin) * 1000;
}

/** Reading a release is quick; a stalled API server must not hold the pass for HELM_TIMEOUT. */
const READ_TIMEOUT_MS = 60_000;

const StatusJson = z.object({
  version: z.number().int(),
  info: z.object({ status: z.string(), last_deployed: z.string().optional() }),
});

const KNOWN: readonly ReleaseStatus[] = ["deployed", "failed", "superseded", "uninstalling", "uninstalled", "pending-install", "pending-upgrade", "pending-rollback"];

export class HelmReleases implements ReleaseManager {
  readonly #o: HelmOptions;
  readonly #cli: HelmCli;

  constructor(options: HelmOptions) {
    this.#o = options;
    this.#cli = new HelmCli(options);
  }

  major(): Promise<HelmMajor> {
    return this.#cli.major();
  }

  /** For `doctor`: which helm runs, e.g. "Helm 4 (v4.2.4)". */
  describe(): Promise<string> {
    return this.#cli.describe();
  }

  async observe(): Promise<ReleaseObservation> {
    const status = await this.#cli.run(["status", this.#o.release, ...this.#cli.target(), "-o", "json"], READ_TIMEOUT_MS);
    if (status.exitCode !== 0) {
      if (await this.#absent()) return { status: "absent" };
      throw await this.#cli.failure("reading release status", status);
    }
    const parsed = StatusJson.safeParse(parseJsonOrUndefined(status.stdout));
    if (!parsed.success) throw new TransientError(`helm status ${this.#o.release} printed JSON we do not understand`, "check the helm version (3 or 4 are supported)");
    const raw = parsed.data.info.status as ReleaseStatus;
    const observation = { status: KNOWN.includes(raw) ? raw : "unknown", revision: parsed.data.version, updatedAt: parsed.data.info.last_deployed } as const;
    if (observation.status !== "deployed") return observation;
    const values = await this.#cli.run(["get", "values", this.#o.release, ...this.#cli.target(), "-o", "json"], READ_TIMEOUT_MS);
    if (values.exitCode !== 0) throw await this.#cli.failure("reading release values", values);
    const tag = pluck(parseJsonOrUndefined(values.stdout), this.#o.imageTagKey);
    return { ...observation, imageTag: typeof tag === "string" ? tag : undefined };
  }

  async repair(release: ReleaseObservation, fence: AbortSignal): Promise<void> {
    const args = release.status === "pending-install" || release.status === "uninstalling"
      // Nothing was ever deployed (or it was being removed): remove the stuck release record.
      ? ["uninstall", this.#o.release, ...this.#cli.target()]
      // Roll back to the revision before the stuck one; it was the last one deployed.
      : ["rollback", this.#o.release, ...this.#cli.target(), ...(await this.#cli.waitFlags()), "--timeout", `${this.#o.timeoutSeconds}s`];
    const result = await this.#cli.run(args, undefined, [{ signal: fence, killAfterMs: this.#o.fencedGraceMs }]);
    if (fence.aborted) throw fence.reason;
    if (result.exitCode !== 0) throw await this.#cli.failure(`repairing release stuck in ${release.status}`, result);
    this.#o.log.info({ status: release.status, command: args[0] }, "Repaired release");
  }

  async deployArgv(request: DeployRequest): Promise<readonly string[]> {
    const major = await this.major();
    const o = this.#o;
    return [
      o.bin, "upgrade", "--install", o.release, request.chartDir, ...this.#cli.target(),
      ...(major === 4 ? ["--rollback-on-failure", `--wait=${o.wait}`] : ["--atomic", "--wait"]),
      "--timeout", `${o.timeoutSeconds}s`,
      "--history-max", "10",
      ...this.#values(request),
      "--output", "json",
    ];
  }

  /** The values the release gets: the files, then the image and its tag (the commit). */
  #values(request: Pick<DeployRequest, "sha" | "valuesFiles">): string[] {
    const o = this.#o;
    return [
      ...request.valuesFiles.flatMap((file) => ["--values", file]),
      "--set-string", `${o.imageRepositoryKey}=${o.image}`,
      "--set-string", `${o.imageTagKey}=${request.sha}`,
    ];
  }

  /**
   * The chart rendered as the upgrade would render it (hooks included), without the cluster, and
   * held to chart-policy.ts: what the chart may not do is refused before anything is applied, as
   * this commit's failure.
   */
  async #checkRendered(request: DeployRequest): Promise<void> {
    const o = this.#o;
    const objects = await this.#template(request);
    const problems = chartViolations(objects, { namespace: o.namespace, serviceTypes: o.serviceTypes });
    if (problems.length > 0) throw new AttemptFailure(`the chart of ${o.release} is refused: ${problems.join("; ")}`);
    const rights = (await o.chartRights?.(objects)) ?? [];
    if (rights.length > 0) {
      throw new ConfigError(`the chart of ${o.release} at ${request.headSha.slice(0, 12)} needs what the deploy identity may not do: ${rights.join("; ")}`,
        "run the same `ci-runner install` again: it grants the deploy identity what the chart at the head renders (or add the rule to its Role by hand)");
    }
  }

  /** The chart as the upgrade would render it (hooks included), without the cluster: for the checks and `install`. */
  async render(request: Pick<DeployRequest, "chartDir" | "sha" | "valuesFiles">): Promise<Rendered[]> {
    await this.#dependencies(request.chartDir);
    return this.#template(request);
  }

  async #template(request: Pick<DeployRequest, "chartDir" | "sha" | "valuesFiles">): Promise<Rendered[]> {
    const o = this.#o;
    const rendered = await this.#cli.run(["template", o.release, request.chartDir, "--namespace", o.namespace, ...this.#values(request)], READ_TIMEOUT_MS);
    if (rendered.startError || rendered.exitCode === 127) throw (await this.#cli.ourFault("template", rendered)) ?? this.#cli.cannotRun(rendered);
    if (rendered.exitCode === 2) throw new AttemptFailure(`helm template of ${o.release} crashed (exit 2): ${this.#cli.crash(rendered)}`);
    if (rendered.exitCode !== 0) throw new AttemptFailure(`helm could not render the chart of ${o.release}: ${errorSummary(rendered.stderr)}`);
    return renderedObjects(rendered.stdout);
  }

  async deploy(request: DeployRequest, fence: AbortSignal): Promise<{ revision: number | undefined }> {
    await this.#dependencies(request.chartDir);
    await this.#checkRendered(request);
    const [, ...args] = await this.deployArgv(request);
    // SIGTERM makes helm (3.17 and 4.x) cancel its wait and take the failure path, which with
    // --atomic / --rollback-on-failure rolls back: the release ends at the previous revision.
    const certain = new AbortController();
    const stopWatching = new AbortController();
    const image = `${this.#o.image}:${request.sha}`;
    let reason: string | undefined;
    let evidence: Evidence | undefined;
    let gathering: Promise<void> = Promise.resolve();
    const gather = () => {
      gathering = (this.#o.gatherEvidence?.(image) ?? Promise.resolve(undefined)).then((found) => { evidence = found ?? evidence; }, () => undefined);
      return gathering;
    };
    void this.#o.watchRollout?.(image, stopWatching.signal).then(async (found) => {
      if (found === undefined) return;
      reason = found;
      // Before helm is stopped: its rollback deletes the pods and their logs with them.
      await gather();
      this.#o.log.warn({ reason }, "Ending the deploy early: the new pods cannot become ready; helm rolls back");
      certain.abort();
    });
    const beforeTimeout = setTimeout(() => void gather(), evidenceDelayMs(this.#o.timeoutSeconds));
    beforeTimeout.unref();
    let result: ExecResult;
    const started = Date.now();
    try {
      // The wait may take HELM_TIMEOUT, and the atomic rollback after a failed wait as long again.
      result = await this.#cli.run(args, (2 * this.#o.timeoutSeconds + 60) * 1000, [
        { signal: certain.signal },
        { signal: fence, killAfterMs: this.#o.fencedGraceMs },
      ]);
    } finally {
      clearTimeout(beforeTimeout);
      stopWatching.abort();
    }
    await gathering;
    if (fence.aborted) throw fence.reason instanceof LeaseLost ? fence.reason : new LeaseLost("the lease was lost during helm upgrade", "the next tick continues");
    if (result.exitCode !== 0 && reason !== undefined) {
      const details = evidence ? evidenceDetails(evidence) : "";
      throw new AttemptFailure(`helm upgrade of ${this.#o.release} was ended early and rolled back: ${reason}${details ? `; ${details}` : ""}`, { rolledBack: true, evidence });
    }
    if (result.exitCode !== 0) {
      // The cluster being unreachable or a missing permission is not this commit's fault; what
      // else helm refused (the chart's templates, its objects, their readiness) is.
      const ours = await this.#cli.ourFault("upgrade", result);
      if (ours !== undefined) throw ours;
      // The Go runtime exits 2 when it cannot allocate or panics; helm's own errors exit 1. helm
      // died mid-way: the release may be left pending, which the next tick repairs.
      if (result.exitCode === 2) throw new AttemptFailure(`helm upgrade of ${this.#o.release} crashed (exit 2): ${this.#cli.crash(result)}`);
      const waited = await this.#waitedOutWatcher(started);
      throw new AttemptFailure(`helm upgrade of ${this.#o.release} failed and was rolled back: ${errorSummary(result.stderr)}${evidence ? `; ${evidence.summary}` : ""}${waited}`, { rolledBack: true, evidence });
    }
    const parsed = z.object({ version: z.number().int() }).safeParse(parseJsonOrUndefined(result.stdout));
    return { revision: parsed.success ? parsed.data.version : undefined };
  }

  /**
   * The chart's test hooks against the deployed release, their pods' logs printed after them. A
   * failed hook is the commit's failure, told with its last log lines; a refused or unreachable
   * API server is not.
   */
  async test(fence: AbortSignal): Promise<void> {
    const o = this.#o;
    const args = ["test", o.release, ...this.#cli.target(), "--logs", "--timeout", `${o.timeoutSeconds}s`];
    const result = await this.#cli.run(args, undefined, [{ signal: fence, killAfterMs: o.fencedGraceMs }]);
    if (fence.aborted) throw fence.reason instanceof LeaseLost ? fence.reason : new LeaseLost("the lease was lost during helm test", "the next tick runs the checks again");
    if (result.exitCode === 0) return;
    const ours = await this.#cli.ourFault("test", result);
    if (ours !== undefined) throw ours;
    if (result.exitCode === 2) throw new AttemptFailure(`helm test of ${o.release} crashed (exit 2): ${this.#cli.crash(result)}`);
    const logs = testLogs(result.stdout);
    throw new AttemptFailure(`helm test of ${o.release} failed: ${errorSummary(result.stderr, 200)}${logs ? `; ${logs}` : ""}`);
  }

  async rollback(revision: number, fence: AbortSignal): Promise<void> {
    const o = this.#o;
    const args = ["rollback", o.release, String(revision), ...this.#cli.target(), ...(await this.#cli.waitFlags()), "--timeout", `${o.timeoutSeconds}s`, "--history-max", "10"];
    const result = await this.#cli.run(args, undefined, [{ signal: fence, killAfterMs: o.fencedGraceMs }]);
    if (fence.aborted) throw fence.reason instanceof LeaseLost ? fence.reason : new LeaseLost("the lease was lost during helm rollback", "the next tick finishes it");
    if (result.exitCode === 0) return;
    const ours = await this.#cli.ourFault("rollback", result);
    if (ours !== undefined) throw ours;
    throw new AttemptFailure(`helm rollback of ${o.release} to revision ${revision} failed: ${errorSummary(result.stderr, 200)}`);
  }

  /**
   * Helm 4's watcher waits until every resource reports ready; a custom resource whose status
   * kstatus cannot read never does (helm#32615). A deploy that waited its whole HELM_TIMEOUT with
   * pods that never failed says what to try; told by the time it took, not by helm's words.
   */
  async #waitedOutWatcher(started: number): Promise<string> {
    if (this.#o.wait !== "watcher" || (await this.major()) !== 4 || Date.now() - started < this.#o.timeoutSeconds * 1000) return "";
    return "; it waited all of HELM_TIMEOUT: if the chart has custom resources whose status Helm's watcher cannot read, set HELM_WAIT=legacy";
  }

  /** `helm dependency build` only when the chart declares dependencies. */
  async #dependencies(chartDir: string): Promise<void> {
    const { declared, refused } = await chartDependencies(chartDir);
    if (!declared) return;
    if (refused.length > 0) throw new AttemptFailure(`the chart's dependencies are refused: ${refused.join("; ")}`);
    const result = await this.#cli.run(["dependency", "build", chartDir]);
    if (result.exitCode !== 0) throw new AttemptFailure(`helm dependency build failed: ${errorSummary(result.stderr)}`);
    // What was downloaded or copied in is the commit's too: held to the checkout's own rules.
    const problem = await this.#o.checkTree?.(chartDir);
    if (problem !== undefined) throw new AttemptFailure(`the chart's dependencies are refused: ${problem}`);
  }

  /** Whether the release exists at all, asked structurally: a filtered list is empty or not. */
  async #absent(): Promise<boolean> {
    // Helm 3 lists deployed and failed releases unless told --all; Helm 4 lists every status.
    const all = (await this.major()) === 3 ? ["--all"] : [];
    const list = await this.#cli.run(["list", ...this.#cli.target(), ...all, "--filter", `^${this.#o.release}$`, "-o", "json"], READ_TIMEOUT_MS);
    const parsed = z.array(z.object({ name: z.string() })).safeParse(parseJsonOrUndefined(list.stdout));
    return list.exitCode === 0 && parsed.success && !parsed.data.some((r) => r.name === this.#o.release);
  }


}
