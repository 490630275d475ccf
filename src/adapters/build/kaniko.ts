import type { BatchV1Api, CoreV1Api, KubeConfig, V1Job, V1Pod } from "@kubernetes/client-node";
import type { Config } from "../../config/load.ts";
import { ConfigError, TransientError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { LABELS, MANAGER, buildJobName, targetSelector } from "../../names.ts";
import type { BuildPlan, BuildRequest, BuildRunner } from "../../reconcile/ports.ts";
import type { BuildObservation } from "../../reconcile/types.ts";
import { isStatus, kubeError } from "../kube/errors.ts";
import { listPods } from "../kube/pods.ts";
import { streamLines } from "../kube/stream.ts";
import { buildPlan, kanikoJob } from "./job.ts";
import { type LogRelay, relayBuildLog } from "./log.ts";
import { containerStarted, failureReason, finished, startFailure } from "./pod.ts";
import type { TokenSecrets } from "./token-secrets.ts";

const DIGEST = /sha256:[0-9a-f]{64}/;

/**
 * Seconds one watch of the build Job lasts before the API server ends it. Between watches the Job
 * and its pod are read again, so a pod that cannot start is seen within this time.
 */
const WATCH_WINDOW_SECONDS = 10;

/** How long the build's last log lines may take to reach us after the Job finished. */
const LOG_DRAIN_MS = 3_000;

export interface KanikoDeps {
  readonly kc: KubeConfig;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly config: Config;
  /** With a GitHub App: each build Job gets the installation token in a Secret it owns. */
  readonly tokenSecrets?: TokenSecrets | undefined;
}

/** Build Jobs in CICD_NS: created by name (the lock), awaited with a watch, read back for the digest. */
export class KanikoBuilds implements BuildRunner {
  readonly #d: KanikoDeps;
  readonly #ns: string;

  constructor(deps: KanikoDeps) {
    this.#d = deps;
    this.#ns = deps.config.cicdNamespace;
  }

  async find(sha: string, attempt: number): Promise<BuildObservation | undefined> {
    const name = buildJobName(this.#d.config.release, sha, attempt);
    let job: V1Job;
    try {
      job = await this.#d.batch.readNamespacedJob({ name, namespace: this.#ns });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw kubeError(error, `reading build Job ${this.#ns}/${name}`);
    }
    this.#assertIdentity(job, sha, attempt);
    return this.#observe(job);
  }

  async plan(request: BuildRequest): Promise<BuildPlan> {
    return buildPlan(this.#d.config, request);
  }

  async start(request: BuildRequest): Promise<string> {
    const body = kanikoJob(this.#d.config, request.sha, request.attempt);
    const name = body.metadata?.name ?? "";
    // The token Secret first: a pod that references a missing Secret cannot start.
    await this.#d.tokenSecrets?.ensure(name, request);
    // Killed here: the Secret has no owner yet; the next tick computes the same names, writes the
    // Secret again with a fresh token, creates (or adopts) the Job and gives the Secret its owner.
    try {
      await this.#d.batch.createNamespacedJob({ namespace: this.#ns, body, fieldManager: MANAGER });
    } catch (error) {
      if (!isStatus(error, 409)) throw kubeError(error, `creating build Job ${this.#ns}/${name}`);
      // AlreadyExists: a run killed after creating it, or a concurrent one. Adopt it only if it is
      // ours for this target, commit and attempt (find checks the labels).
      const existing = await this.find(request.sha, request.attempt);
      if (existing === undefined) throw new TransientError(`build Job ${this.#ns}/${name} was deleted while we created it`, "the next tick creates it again");
      this.#d.log.info({ job: name }, "Adopted existing build Job");
    }
    await this.#d.tokenSecrets?.ownBy(name);
    return name;
  }

  /**
   * Waits until the Job finishes. Each round reads the Job and its pod, then watches the Job for
   * at most WATCH_WINDOW_SECONDS: a quiet watch is normal for a running build and only means
   * "read again". Stops at once when `fence` aborts (the lease could not be renewed).
   */
  async wait(name: string, fence: AbortSignal): Promise<void> {
    // A run killed between creating the Job and giving it its Secret left the Secret unowned; the
    // tick that adopts the Job gives it now (the same patch again when it is already owned).
    await this.#d.tokenSecrets?.ownBy(name, true);
    const deadline = Date.now() + (this.#d.config.buildTimeoutSeconds + 120) * 1000;
    let relay: LogRelay | undefined;
    try {
      while (Date.now() < deadline) {
        if (fence.aborted) throw fence.reason;
        const job = await this.#read(name);
        if (finished(job)) {
          await this.#finishRelay(name, relay);
          return;
        }
        const pod = await this.#pod(name);
        const stuck = startFailure(pod);
        // The Job stays: once the Secret or image exists the kubelet starts the pod, and the next
        // tick adopts the Job by name.
        if (stuck !== undefined) throw new ConfigError(`${stuck.message}`, stuck.remedy.replaceAll("CICD_NS", this.#ns));
        if (relay === undefined && containerStarted(pod) && pod?.metadata?.name) {
          relay = relayBuildLog(this.#d.kc, this.#ns, name, pod.metadata.name, this.#d.log);
        }
        await this.#watchWindow(name, job.metadata?.resourceVersion, fence);
      }
      throw new TransientError(`build Job ${this.#ns}/${name} did not finish within BUILD_TIMEOUT`, "the next tick checks it again");
    } finally {
      relay?.stop();
    }
  }

  /**
   * The build's last lines reach our log too: a following relay gets a moment to drain; a build
   * that finished before its relay could start has its log read once.
   */
  async #finishRelay(name: string, relay: LogRelay | undefined): Promise<void> {
    let current = relay;
    if (current === undefined) {
      const pod = await this.#pod(name).catch(() => undefined);
      if (pod?.metadata?.name === undefined || !containerStarted(pod)) return;
      current = relayBuildLog(this.#d.kc, this.#ns, name, pod.metadata.name, this.#d.log, false);
    }
    const { promise: timeUp, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, LOG_DRAIN_MS);
    await Promise.race([current.done, timeUp]);
    clearTimeout(timer);
    current.stop();
  }

  async remove(name: string): Promise<void> {
    try {
      await this.#d.batch.deleteNamespacedJob({ name, namespace: this.#ns, propagationPolicy: "Background" });
    } catch (error) {
      if (!isStatus(error, 404)) throw kubeError(error, `deleting build Job ${this.#ns}/${name}`);
    }
  }

  async inFlight(): Promise<BuildObservation[]> {
    try {
      const list = await this.#d.batch.listNamespacedJob({ namespace: this.#ns, labelSelector: targetSelector(this.#d.config.release) });
      const running = list.items.filter((job) => !finished(job));
      return Promise.all(running.map((job) => this.#observe(job)));
    } catch (error) {
      throw kubeError(error, `listing build Jobs in ${this.#ns}`);
    }
  }

  async #read(name: string): Promise<V1Job> {
    try {
      return await this.#d.batch.readNamespacedJob({ name, namespace: this.#ns });
    } catch (error) {
      throw kubeError(error, `reading build Job ${this.#ns}/${name}`);
    }
  }

  async #observe(job: V1Job): Promise<BuildObservation> {
    const labels = job.metadata?.labels ?? {};
    const base = {
      name: job.metadata?.name ?? "",
      sha: labels[LABELS.sha] ?? "",
      attempt: Number(labels[LABELS.attempt] ?? 0),
      startedAt: job.status?.startTime?.toISOString(),
    };
    if (!finished(job)) return { ...base, phase: "running" };
    const pod = await this.#pod(base.name);
    const complete = (job.status?.conditions ?? []).some((c) => c.type === "Complete" && c.status === "True");
    if (complete) {
      const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
      return { ...base, phase: "succeeded", digest: DIGEST.exec(terminated?.message ?? "")?.[0] };
    }
    const why = failureReason(job, pod, this.#d.config.buildTimeoutSeconds, await this.#logOf(pod));
    return { ...base, phase: "failed", reason: `${why}; see kubectl -n ${this.#ns} logs job/${base.name}` };
  }

  /** The end of a failed build pod's log; undefined when it cannot be read (the reason then comes from the pod status). */
  async #logOf(pod: V1Pod | undefined): Promise<string | undefined> {
    const name = pod?.metadata?.name;
    if (name === undefined || pod?.status?.containerStatuses?.[0]?.state?.terminated === undefined) return undefined;
    try {
      return await this.#d.core.readNamespacedPodLog({ name, namespace: this.#ns, container: "kaniko", limitBytes: 256 * 1024 });
    } catch {
      return undefined;
    }
  }

  async #pod(job: string): Promise<V1Pod | undefined> {
    const pods = await listPods(this.#d.core, this.#ns, `listing pods of build Job ${this.#ns}/${job}`, { labelSelector: `batch.kubernetes.io/job-name=${job}` });
    return pods[0];
  }

  /** A Job under our deterministic name is believed only if its labels name our target, commit and attempt. */
  #assertIdentity(job: V1Job, sha: string, attempt: number): void {
    const labels = job.metadata?.labels ?? {};
    const name = `${this.#ns}/${job.metadata?.name}`;
    if (labels[LABELS.managedBy] !== MANAGER) {
      throw new ConfigError(`Job ${name} exists but was not created by ci-runner`, "delete or rename that Job; ci-runner owns the build-<release>-* names in CICD_NS");
    }
    const release = this.#d.config.release;
    if (labels[LABELS.target] !== release || labels[LABELS.sha] !== sha || labels[LABELS.attempt] !== String(attempt)) {
      throw new ConfigError(
        `Job ${name} belongs to release ${labels[LABELS.target] ?? "?"}, commit ${(labels[LABELS.sha] ?? "?").slice(0, 12)}, attempt ${labels[LABELS.attempt] ?? "?"}, not to ${release} at ${sha.slice(0, 12)} attempt ${attempt}`,
        "delete that Job (kubectl -n CICD_NS delete job NAME); two targets must not share a build Job name",
      );
    }
  }

  /**
   * One watch of the Job: ended by the server after the window, by a finished Job, by silence
   * (a stalled API server: the window plus a margin), or by the fence, socket and all.
   */
  async #watchWindow(name: string, resourceVersion: string | undefined, fence: AbortSignal): Promise<void> {
    const query = new URLSearchParams({ watch: "true", fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: "true", timeoutSeconds: String(WATCH_WINDOW_SECONDS) });
    if (resourceVersion !== undefined) query.set("resourceVersion", resourceVersion);
    const done = new AbortController();
    const signal = AbortSignal.any([done.signal, fence, AbortSignal.timeout((WATCH_WINDOW_SECONDS + 10) * 1000)]);
    const what = `watching build Job ${this.#ns}/${name}`;
    try {
      const status = await streamLines(this.#d.kc, `/apis/batch/v1/namespaces/${this.#ns}/jobs?${query}`, signal, (line) => {
        const event = parseEvent(line);
        if (event !== undefined && event.type !== "BOOKMARK" && finished(event.object)) done.abort();
      });
      const refused = watchRefused(status, what);
      if (refused !== undefined) throw refused;
    } catch (error) {
      if (fence.aborted) throw fence.reason;
      if (error instanceof ConfigError) throw error;
      // Closed, expired resourceVersion, silence: read the Job again. A gone API server makes
      // that read fail on its own deadline.
    }
  }
}

function parseEvent(line: string): { type: string; object: V1Job } | undefined {
  try {
    return JSON.parse(line) as { type: string; object: V1Job };
  } catch {
    return undefined;
  }
}

/** A forbidden watch is a configuration error; any other end of a watch means "read again". */
function watchRefused(status: number, what: string): ConfigError | undefined {
  if (status !== 401 && status !== 403) return undefined;
  return new ConfigError(`${what}: the API server refused the watch (HTTP ${status})`, "grant `watch` on jobs in CICD_NS to ci-runner's ServiceAccount (see manifests/)");
}
