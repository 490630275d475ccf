import type { ApiException } from "@kubernetes/client-node";
import { ConfigError, ConflictError, RunnerError, TransientError } from "../../errors.ts";

/** The Status body of an API error, whatever form the client left it in. */
function statusOf(error: ApiException<unknown>): { message?: string; reason?: string; details?: { kind?: string; name?: string; causes?: unknown[] } } {
  const body = error.body;
  if (typeof body === "object" && body !== null) return body as { message?: string };
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as { message?: string };
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  return {};
}

/**
 * The client's ApiException, told by its shape (an HTTP code, the response's headers and body) so
 * that this module, which the idle tick loads, does not load the Kubernetes client.
 */
export function isApiException(error: unknown): error is ApiException<unknown> {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "number" && "body" in error && "headers" in error;
}

export function isStatus(error: unknown, code: number): boolean {
  return isApiException(error) && error.code === code;
}

/**
 * Translates a Kubernetes client error into our classes, naming what we tried. Never passes the
 * raw ApiException on: it carries headers and the whole body.
 */
export function kubeError(error: unknown, what: string): RunnerError {
  if (error instanceof RunnerError) return error;
  if (isApiException(error)) {
    const status = statusOf(error);
    const detail = status.message || `HTTP ${error.code}`;
    switch (error.code) {
      case 401:
        return new ConfigError(`${what}: the Kubernetes API rejected our credentials`, "check the kubeconfig or the pod's ServiceAccount token");
      case 403:
        // An admission policy's refusal carries its causes; RBAC's does not. They need different fixes.
        if ((status.details?.causes?.length ?? 0) > 0) {
          return new ConfigError(`${what}: refused by admission: ${detail}`, "make the object and the cluster's admission policies agree; ci-runner's own (manifests/base/build-policy.yaml) lists the Kaniko images and Secrets a build may use in ConfigMap cicd/ci-runner-build-policy");
        }
        return new ConfigError(`${what}: ${detail}`, "grant the missing permission to ci-runner's ServiceAccount (see manifests/); `ci-runner doctor` lists every permission it needs");
      case 404:
        // A missing namespace never appears by itself: the next tick would fail the same way.
        if (status.details?.kind === "namespaces") {
          const ns = status.details.name ?? "?";
          return new ConfigError(`${what}: namespace ${ns} does not exist`, `create it (kubectl create namespace ${ns}, or apply manifests/) or set the namespace setting to one that exists`);
        }
        return new TransientError(`${what}: ${detail}`, "the next tick retries");
      case 409:
        return new ConflictError(`${what}: ${detail}`, "another run changed the same object; the next pass re-reads it");
      case 400:
      case 422:
        return new ConfigError(`${what}: the API server refused it: ${detail}`, "check the settings that go into this object");
      default:
        return new TransientError(`${what}: ${detail}`, "the next tick retries");
    }
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new TransientError(`${what}: the Kubernetes API did not answer in time`, "check the API server's health; the next tick retries", { cause: error });
  }
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new TransientError(`${what}: cannot reach the Kubernetes API (${message})`, "check the cluster address and network; the next tick retries", { cause: error });
}
