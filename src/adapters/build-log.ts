import { HttpMethod, type KubeConfig, RequestContext } from "@kubernetes/client-node";
import { fetch } from "undici";
import type { Logger } from "../log.ts";
import { cleanLines } from "./build-pod.ts";

/**
 * Follows the build container's log into ours (scrubbed of secrets there), cleaned of colour codes
 * and git progress meters. Best effort: the build goes on whatever happens to the relay, and
 * stopping it never throws, whether or not the stream is still open. (The client library's own
 * log follower pipes a stream it owns, which throws an unhandled error when aborted.)
 */
export function relayBuildLog(kc: KubeConfig, namespace: string, job: string, pod: string, log: Logger): { stop(): void } {
  const stopped = new AbortController();
  follow(kc, `/api/v1/namespaces/${namespace}/pods/${pod}/log?container=kaniko&follow=true`, stopped.signal, (text) => {
    for (const line of cleanLines(text)) log.info({ job, line }, "Build output");
  }).then((status) => {
    // The log endpoint answers a bare 403: say which permission that is.
    if (status === 403) log.warn({ job, error: `forbidden: cannot get resource "pods/log" in the namespace "${namespace}"` }, "Could not relay the build log");
    else if (status !== 200) log.debug({ job, status }, "Build log relay ended");
  }, (error: unknown) => {
    if (!stopped.signal.aborted) log.debug({ job, err: error }, "Build log relay ended");
  });
  return { stop: () => stopped.abort() };
}

/** GETs `path` and hands complete lines to `onLines` until the stream ends; returns the HTTP status. */
async function follow(kc: KubeConfig, path: string, signal: AbortSignal, onLines: (text: string) => void): Promise<number> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) return 0;
  const context = new RequestContext(`${cluster.server}${path}`, HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  const response = await fetch(context.getUrl(), { headers: context.getHeaders(), dispatcher: context.getDispatcher() as never, signal });
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    return response.status;
  }
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    const end = pending.lastIndexOf("\n");
    if (end >= 0) {
      onLines(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  }
  onLines(pending);
  return 200;
}
