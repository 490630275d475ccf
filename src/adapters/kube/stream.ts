import { HttpMethod, type KubeConfig, RequestContext } from "@kubernetes/client-node";
import { fetch } from "undici";

/**
 * A streaming GET against the API server (a watch, a followed log) that ends exactly when
 * `signal` aborts, socket included. The client library's own Watch and Log own their abort
 * controllers: a watch whose headers never arrive (a stalled API server) stays open until the
 * library's 30 s timer, and an aborted log stream throws an unhandled error.
 *
 * Hands complete lines to `onLine` until the server ends the stream; resolves with the HTTP status.
 */
export async function streamLines(kc: KubeConfig, path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<number> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("streamLines: kubeconfig has no current cluster");
  const context = new RequestContext(`${cluster.server}${path}`, HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  const response = await fetch(context.getUrl(), { headers: context.getHeaders(), dispatcher: context.getDispatcher() as never, signal });
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    return response.status;
  }
  const decoder = new TextDecoder();
  let pending = "";
  // A line without its end is kept up to MAX_LINE; the rest of it is dropped up to the next newline.
  // A build's RUN step may print 40 MB without one, and held whole it would take the runner with it.
  let dropping = false;
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = pending.indexOf("\n");
    while (end >= 0) {
      if (!dropping) onLine(pending.slice(0, end));
      dropping = false;
      pending = pending.slice(end + 1);
      end = pending.indexOf("\n");
    }
    if (pending.length > MAX_LINE) {
      if (!dropping) onLine(`${pending.slice(0, MAX_LINE)}… (line cut at ${MAX_LINE} characters)`);
      dropping = true;
      pending = "";
    }
  }
  if (pending !== "" && !dropping) onLine(pending);
  return 200;
}

/** The longest line handed on, in characters. */
export const MAX_LINE = 16 * 1024;
