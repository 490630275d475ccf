import { TransientError } from "../../errors.ts";
import type { Transition } from "../../reconcile/ports.ts";
import type { NamedReporter } from "./fan-out.ts";
import { TIMEOUTS } from "../http/timeouts.ts";
import { httpTransport, networkFailure, type Transport, type TransportResponse } from "../http/transport.ts";
import { failureKind } from "./text.ts";

interface Sample {
  readonly name: string;
  readonly help: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * The metrics a transition sets. Every push is a POST: it replaces only the metrics named in it,
 * so the build's durations stay beside the deploy's, and each outcome replaces the one before.
 */
export function samplesFor(t: Transition, at: Date): Sample[] {
  const now = at.getTime() / 1000;
  switch (t.kind) {
    case "build-succeeded":
      return [
        ...(t.seconds === undefined ? [] : [{ name: "ci_runner_build_duration_seconds", help: "Seconds the last successful build took.", value: t.seconds }]),
        { name: "ci_runner_last_build_success_timestamp_seconds", help: "When the last build succeeded.", value: now },
      ];
    case "deployed":
      return [
        ...(t.seconds === undefined ? [] : [{ name: "ci_runner_deploy_duration_seconds", help: "Seconds the last successful helm upgrade took.", value: t.seconds }]),
        { name: "ci_runner_last_success_timestamp_seconds", help: "When a commit was last deployed.", value: now },
        outcome("deployed"),
        { name: "ci_runner_failed_attempts", help: "Failed attempts of the commit being tried; 0 once deployed.", value: 0 },
        { name: "ci_runner_set_aside", help: "1 while a commit is set aside after its last attempt.", value: 0 },
      ];
    case "attempt-failed":
      return [
        { name: "ci_runner_last_failure_timestamp_seconds", help: "When an attempt last failed, by phase.", labels: { phase: t.phase }, value: now },
        outcome(t.setAside ? "set-aside" : failureKind(t)),
        { name: "ci_runner_failed_attempts", help: "Failed attempts of the commit being tried; 0 once deployed.", value: t.attempt },
        { name: "ci_runner_set_aside", help: "1 while a commit is set aside after its last attempt.", value: t.setAside ? 1 : 0 },
      ];
    case "build-started":
    case "deploy-started":
    case "lease-contention":
      return [];
  }
}

function outcome(value: string): Sample {
  return { name: "ci_runner_last_outcome", help: "The last attempt's outcome: deployed, build-failed, deploy-failed, rolled-back or set-aside.", labels: { outcome: value }, value: 1 };
}

/** Prometheus' text format 0.0.4. */
export function exposition(samples: readonly Sample[]): string {
  const lines: string[] = [];
  for (const s of samples) {
    lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} gauge`);
    const labels = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
    lines.push(`${s.name}${labels.length ? `{${labels.join(",")}}` : ""} ${s.value}`);
  }
  return `${lines.join("\n")}\n`;
}

export interface PushgatewayOptions {
  readonly url: string;
  readonly namespace: string;
  readonly release: string;
  readonly now?: () => Date;
  readonly timeoutMs?: number;
  readonly transport?: Transport;
}

/**
 * Pushes build and deploy metrics to a Prometheus Pushgateway, the standard way to monitor batch
 * jobs, grouped per release: job="ci-runner", namespace=DEPLOY_NS, release=RELEASE.
 */
export class Pushgateway implements NamedReporter {
  readonly name = "pushgateway";
  readonly #o: PushgatewayOptions;

  constructor(options: PushgatewayOptions) {
    this.#o = options;
  }

  /** Where this release's group lives; label values are path-escaped as the Pushgateway expects. */
  groupUrl(): string {
    const { url, namespace, release } = this.#o;
    return `${url}/metrics/job/ci-runner/namespace/${encodeURIComponent(namespace)}/release/${encodeURIComponent(release)}`;
  }

  async report(transition: Transition): Promise<void> {
    const samples = samplesFor(transition, (this.#o.now ?? (() => new Date()))());
    if (samples.length === 0) return;
    let response: TransportResponse;
    try {
      response = await (this.#o.transport ?? httpTransport())(this.groupUrl(), {
        method: "POST",
        headers: { "content-type": "text/plain; version=0.0.4" },
        body: exposition(samples),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? TIMEOUTS.pushgatewayMs),
      });
    } catch (error) {
      throw new TransientError(`cannot push metrics to the Pushgateway at ${this.#o.url} (${networkFailure(error)})`, "check PUSHGATEWAY_URL; the pass went on without it");
    }
    const text = (await response.text()).trim().slice(0, 200);
    if (!response.ok) throw new TransientError(`the Pushgateway at ${this.#o.url} refused the metrics (HTTP ${response.status}${text ? `: ${text}` : ""})`, "check PUSHGATEWAY_URL; the pass went on without it");
  }
}
