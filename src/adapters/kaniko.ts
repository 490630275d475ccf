import { PassThrough } from "node:stream";
import { createInterface } from "node:readline";
import { type BatchV1Api, type CoreV1Api, type KubeConfig, Log, type V1Job, type V1Pod, Watch } from "@kubernetes/client-node";
import type { Config } from "../config.ts";
import { ConfigError, TransientError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { LABELS, MANAGER, buildJobName, targetSelector } from "../names.ts";
import type { BuildRequest, BuildRunner } from "../reconcile/ports.ts";
import type { BuildObservation } from "../reconcile/types.ts";
import { kanikoJob } from "./kaniko-job.ts";
import { isStatus, kubeError } from "./kube.ts";

const DIGEST = /sha256:[0-9a-f]{64}/;

export interface KanikoDeps {
  readonly kc: KubeConfig;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly config: Config;
}

/** Build Jobs in CICD_NS: created by name (the lock), awaited with a watch, read back for the digest. */
export class KanikoBuilds implements BuildRunner {
  readonly #d: KanikoDeps;
  readonly #ns: string;

  constructor(deps: KanikoDeps) {
    this.#d = deps;
    this.#ns = deps.config.cicdNamespace;
  }

  jobName(sha: string, attempt: number): string {
    return buildJobName(this.#d.config.release, sha, attempt);
  }

  async find(name: string): Promise<BuildObservation | undefined> {
    let job: V1Job;
    try {
      job = await this.#d.batch.readNamespacedJob({ name, namespace: this.#ns });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw kubeError(error, `reading build Job ${this.#ns}/${name}`);
    }
    assertOurs(job, name);
    return this.#observe(job);
  }

  async start(request: BuildRequest): Promise<void> {
    const body = kanikoJob(this.#d.config, request.sha, request.attempt);
    const name = body.metadata?.name ?? "";
    try {
      await this.#d.batch.createNamespacedJob({ namespace: this.#ns, body, fieldManager: MANAGER });
    } catch (error) {
      if (!isStatus(error, 409)) throw kubeError(error, `creating build Job ${this.#ns}/${name}`);
      // AlreadyExists: a run killed after creating it, or a concurrent one. Adopt it if it is ours.
      const existing = await this.find(name);
      if (existing === undefined) throw new TransientError(`build Job ${this.#ns}/${name} was deleted while we created it`, "the next tick creates it again");
      this.#d.log.info({ job: name }, "Adopted existing build Job");
    }
  }

  async wait(name: string): Promise<void> {
    const deadline = Date.now() + (this.#d.config.buildTimeoutSeconds + 120) * 1000;
    const relay = this.#relayLogs(name);
    try {
      while (Date.now() < deadline) {
        const job = await this.#d.batch.readNamespacedJob({ name, namespace: this.#ns }).catch((error: unknown) => {
          throw kubeError(error, `reading build Job ${this.#ns}/${name}`);
        });
        if (finished(job)) return;
        await watchOnce(this.#d.kc, `/apis/batch/v1/namespaces/${this.#ns}/jobs`, {
          fieldSelector: `metadata.name=${name}`,
          resourceVersion: job.metadata?.resourceVersion,
          allowWatchBookmarks: true,
        }, (obj) => finished(obj as V1Job), deadline - Date.now());
      }
      throw new TransientError(`build Job ${this.#ns}/${name} did not finish within BUILD_TIMEOUT`, "the next tick checks it again");
    } finally {
      relay.abort();
    }
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

  async #observe(job: V1Job): Promise<BuildObservation> {
    const labels = job.metadata?.labels ?? {};
    const base = {
      name: job.metadata?.name ?? "",
      sha: labels[LABELS.sha] ?? "",
      attempt: Number(labels[LABELS.attempt] ?? 0),
      startedAt: job.status?.startTime?.toISOString(),
    };
    const condition = (job.status?.conditions ?? []).find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
    if (condition === undefined) return { ...base, phase: "running" };
    const pod = await this.#pod(base.name);
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    if (condition.type === "Complete") {
      return { ...base, phase: "succeeded", digest: DIGEST.exec(terminated?.message ?? "")?.[0] };
    }
    const exit = terminated ? `build pod exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}` : "";
    const why = [condition.reason, condition.message, exit].filter(Boolean).join(": ");
    return { ...base, phase: "failed", reason: `${why.slice(0, 300)}; see kubectl -n ${this.#ns} logs job/${base.name}` };
  }

  async #pod(job: string): Promise<V1Pod | undefined> {
    try {
      const pods = await this.#d.core.listNamespacedPod({ namespace: this.#ns, labelSelector: `batch.kubernetes.io/job-name=${job}` });
      return pods.items[0];
    } catch (error) {
      throw kubeError(error, `listing pods of build Job ${this.#ns}/${job}`);
    }
  }

  /** Relays the build pod's log lines into our log (scrubbed of secrets there); best effort. */
  #relayLogs(job: string): AbortController {
    const stop = new AbortController();
    const follow = async () => {
      const deadline = Date.now() + this.#d.config.buildTimeoutSeconds * 1000;
      let pod: V1Pod | undefined;
      while (!stop.signal.aborted && Date.now() < deadline) {
        pod = await this.#pod(job);
        const phase = pod?.status?.phase;
        if (phase === "Running" || phase === "Succeeded" || phase === "Failed") break;
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
      const name = pod?.metadata?.name;
      if (stop.signal.aborted || name === undefined) return;
      const stream = new PassThrough();
      const lines = createInterface({ input: stream });
      lines.on("line", (line) => this.#d.log.info({ job, line }, "Build output"));
      const request = await new Log(this.#d.kc).log(this.#ns, name, "kaniko", stream, { follow: true }).catch((error: unknown) => {
        // The log endpoint answers a bare 403: say which permission that is.
        const translated = kubeError(error, `relaying the log of build Job ${this.#ns}/${job}`);
        if (translated.kind !== "config") throw translated;
        throw new ConfigError(`${translated.message}: forbidden: cannot get resource "pods/log" in the namespace "${this.#ns}"`);
      });
      stop.signal.addEventListener("abort", () => request.abort(), { once: true });
    };
    follow().catch((error: unknown) => {
      // A missing permission is worth a warning (the build goes on); anything else, e.g. a node
      // whose kubelet cannot be reached for logs, is not.
      const translated = kubeError(error, `relaying the log of build Job ${this.#ns}/${job}`);
      if (translated.kind === "config") this.#d.log.warn({ job, error: translated.message }, "Could not relay the build log");
      else this.#d.log.debug({ job, err: error }, "Build log relay ended");
    });
    return stop;
  }
}

function assertOurs(job: V1Job, name: string): void {
  if (job.metadata?.labels?.[LABELS.managedBy] !== MANAGER) {
    throw new ConfigError(`Job ${job.metadata?.namespace}/${name} exists but was not created by ci-runner`, "delete or rename that Job; ci-runner owns the build-<release>-* names in CICD_NS");
  }
}

function finished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

/** One watch: resolves when `done(obj)` holds, when the server closes the watch, or at the timeout. */
function watchOnce(kc: KubeConfig, path: string, query: Record<string, string | boolean | undefined>, done: (obj: unknown) => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    const timer = setTimeout(() => finish(), Math.max(0, timeoutMs));
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      controller?.abort();
      if (error && !(error instanceof Error && error.name === "AbortError")) reject(kubeError(error, `watching ${path}`));
      else resolve();
    };
    new Watch(kc)
      .watch(path, query, (phase, obj) => {
        if (phase !== "BOOKMARK" && done(obj)) finish();
      }, (error) => finish(error))
      .then((c) => { controller = c; }, (error: unknown) => finish(error));
  });
}
