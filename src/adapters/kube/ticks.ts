import type { BatchV1Api, V1CronJob, V1Job } from "@kubernetes/client-node";
import { LABELS, pushJobName } from "../../names.ts";
import type { TickStart, TickStarter } from "../../receive/server.ts";
import { isStatus, kubeError } from "./errors.ts";

/** A GitHub delivery id as it may go into an annotation; anything else is left out. */
const DELIVERY_ID = /^[0-9A-Za-z-]{1,64}$/;

/**
 * Starts a tick of one CronJob as `kubectl create job --from=cronjob/<name>` does: its job
 * template, an owner reference to it (so its history limits clean up after us, and Forbid counts
 * the Job as a running tick), and a name per head SHA. The receiver's admission policy
 * (manifests/base/receiver-policy.yaml) admits no other pod than the CronJob's own.
 */
export class CronJobTicks implements TickStarter {
  readonly #batch: BatchV1Api;
  readonly #namespace: string;
  readonly #cronJob: string;

  constructor(batch: BatchV1Api, namespace: string, cronJob: string) {
    this.#batch = batch;
    this.#namespace = namespace;
    this.#cronJob = cronJob;
  }

  async start(sha: string, delivery: string | undefined): Promise<TickStart> {
    const where = `${this.#namespace}/${this.#cronJob}`;
    const ours = await this.#batch.listNamespacedJob({ namespace: this.#namespace, labelSelector: `${LABELS.trigger}=push,${LABELS.cronJob}=${this.#cronJob}` })
      .catch((error: unknown) => { throw kubeError(error, `listing the Jobs started for pushes to ${where}`); });
    // A Job whose pod has not started yet reads the branch head when it does: it sees this push.
    if (ours.items.some(queued)) return "queued";
    const cron = await this.#batch.readNamespacedCronJob({ name: this.#cronJob, namespace: this.#namespace })
      .catch((error: unknown) => { throw kubeError(error, `reading CronJob ${where}`); });
    try {
      await this.#batch.createNamespacedJob({ namespace: this.#namespace, body: jobFrom(cron, pushJobName(this.#cronJob, sha), delivery) });
      return "started";
    } catch (error) {
      if (isStatus(error, 409)) return "exists";
      throw kubeError(error, `creating a Job from CronJob ${where}`);
    }
  }
}

/** Neither finished nor yet running a ready pod. */
function queued(job: V1Job): boolean {
  const finished = (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  return !finished && (job.status?.ready ?? 0) === 0 && (job.status?.succeeded ?? 0) === 0 && (job.status?.failed ?? 0) === 0;
}

export function jobFrom(cron: V1CronJob, name: string, delivery: string | undefined): V1Job {
  const template = cron.spec?.jobTemplate;
  const cronName = cron.metadata?.name ?? "";
  if (template?.spec === undefined || cron.metadata?.uid === undefined) throw new Error(`CronJob ${cronName} has no job template`);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: cron.metadata.namespace,
      labels: { ...template.metadata?.labels, [LABELS.trigger]: "push", [LABELS.cronJob]: cronName },
      annotations: {
        ...template.metadata?.annotations,
        "cronjob.kubernetes.io/instantiate": "manual",
        ...(delivery !== undefined && DELIVERY_ID.test(delivery) ? { "ci-runner.dev/delivery": delivery } : {}),
      },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: cronName, uid: cron.metadata.uid, controller: true }],
    },
    spec: template.spec,
  };
}
