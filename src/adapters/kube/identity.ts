import type { AuthenticationV1Api, KubeConfig } from "@kubernetes/client-node";
import { isStatus, kubeError } from "./errors.ts";

/** Who is talking to the API server: recorded with an approval. */
export interface Identity {
  whoAmI(): Promise<string>;
}

/**
 * The user the API server authenticated (a SelfSubjectReview, as `kubectl auth whoami` asks): a
 * person's name from their kubeconfig credentials, or `system:serviceaccount:<ns>:<name>`. Every
 * authenticated user may ask it (system:basic-user). An API server that does not serve it (before
 * Kubernetes 1.28) leaves only the kubeconfig's user name, which the server never checked: said so.
 */
export class ApiServerIdentity implements Identity {
  readonly #api: AuthenticationV1Api;
  readonly #kc: KubeConfig;

  constructor(api: AuthenticationV1Api, kc: KubeConfig) {
    this.#api = api;
    this.#kc = kc;
  }

  async whoAmI(): Promise<string> {
    try {
      const review = await this.#api.createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
      const username = review.status?.userInfo?.username;
      if (username) return username;
    } catch (error) {
      if (!isStatus(error, 404) && !isStatus(error, 403)) throw kubeError(error, "asking the API server who we are (SelfSubjectReview)");
    }
    const user = this.#kc.getCurrentUser()?.name ?? "unknown";
    return `${user} (kubeconfig user; the API server did not confirm it)`;
  }
}
