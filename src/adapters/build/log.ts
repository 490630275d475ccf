import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../log.ts";
import { cleanLines } from "./pod.ts";
import { streamLines } from "../kube/stream.ts";

/**
 * Follows the build container's log into ours (scrubbed of secrets there), cleaned of colour codes
 * and git progress meters. Best effort: the build goes on whatever happens to the relay, and
 * stopping it never throws, whether or not the stream is still open.
 */
export interface LogRelay {
  /** Ends the relay now; never throws. */
  stop(): void;
  /** Settles when the log stream ended by itself (the container exited) or was stopped. */
  readonly done: Promise<void>;
}

/**
 * `follow`: relay as the build runs, until the container exits. Without it, relay what the log
 * holds now: for a build that finished before its relay could start.
 */
export function relayBuildLog(kc: KubeConfig, namespace: string, job: string, pod: string, log: Logger, follow = true): LogRelay {
  const stopped = new AbortController();
  const path = `/api/v1/namespaces/${namespace}/pods/${pod}/log?container=kaniko${follow ? "&follow=true" : ""}`;
  const done = streamLines(kc, path, stopped.signal, (text) => {
    for (const line of cleanLines(text)) log.info({ job, line }, "Build output");
  }).then((status) => {
    // The log endpoint answers a bare 403: say which permission that is.
    if (status === 403) log.warn({ job, error: `forbidden: cannot get resource "pods/log" in the namespace "${namespace}"` }, "Could not relay the build log");
    else if (status !== 200) log.debug({ job, status }, "Build log relay ended");
  }, (error: unknown) => {
    if (!stopped.signal.aborted) log.debug({ job, err: error }, "Build log relay ended");
  });
  return { stop: () => stopped.abort(), done };
}
