import { type BatchV1Api, type CoreV1Api, PatchStrategy, setHeaderOptions, type V1Secret } from "@kubernetes/client-node";
import { ConfigError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { LABELS, MANAGER, buildLabels, tokenSecretName } from "../../names.ts";
import type { BuildRequest } from "../../reconcile/ports.ts";
import type { GitHubCredentials } from "../github/octokit.ts";
import { isStatus, kubeError } from "../kube/errors.ts";

export interface TokenSecretsOptions {
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;
  readonly namespace: string;
  readonly release: string;
  readonly auth: Pick<GitHubCredentials, "buildToken">;
  readonly log: Logger;
}

/**
 * Hands build Jobs a GitHub App's installation token. The build pod reads the token only by Secret
 * reference, from a Secret of its own that the build Job owns: the garbage collector deletes it
 * with the Job (a succeeded Job at once, a failed one at its TTL), so no token outlives its Job.
 * A Secret left behind by a commit never tried again holds a token that expires within the hour.
 */
export class TokenSecrets {
  readonly #o: TokenSecretsOptions;

  constructor(options: TokenSecretsOptions) {
    this.#o = options;
  }

  /** Writes the current token into the Secret of build Job `job`, before the Job exists. */
  async ensure(job: string, request: BuildRequest): Promise<void> {
    // The build pod runs the commit's Dockerfile: it gets the narrowest token there is.
    const token = await this.#o.auth.buildToken();
    if (token === undefined) throw new ConfigError("no GitHub token to hand the build pod", "set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY");
    await this.#ensureSecret(tokenSecretName(job), token, request);
  }

  /** Makes build Job `job` own its token Secret; `adopting`: a Job whose Secret is gone is left to fail on its own. */
  async ownBy(job: string, adopting = false): Promise<void> {
    const secret = tokenSecretName(job);
    await this.#ownBy(secret, job, adopting);
    if (!adopting) this.#o.log.info({ job, secret }, "Handed the build Job its installation token in a Secret it owns");
  }

  async #ensureSecret(name: string, token: string, request: BuildRequest): Promise<void> {
    const { core, namespace, release } = this.#o;
    const body: V1Secret = {
      apiVersion: "v1", kind: "Secret", type: "Opaque",
      metadata: { name, namespace, labels: buildLabels(release, request.sha, request.attempt) },
      stringData: { token },
    };
    try {
      await core.createNamespacedSecret({ namespace, body, fieldManager: MANAGER });
      return;
    } catch (error) {
      if (!isStatus(error, 409)) throw kubeError(error, `creating the build's token Secret ${namespace}/${name}`);
    }
    // AlreadyExists: ours from a killed run (refreshed with this run's token), or someone else's,
    // which the JSON patch's tests refuse before anything is written.
    const escaped = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
    const patch = [
      { op: "test", path: `/metadata/labels/${escaped(LABELS.managedBy)}`, value: MANAGER },
      { op: "test", path: `/metadata/labels/${escaped(LABELS.target)}`, value: release },
      { op: "add", path: "/data/token", value: Buffer.from(token).toString("base64") },
    ];
    try {
      await core.patchNamespacedSecret({ name, namespace, body: patch, fieldManager: MANAGER }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch));
    } catch (error) {
      if (isStatus(error, 422)) {
        throw new ConfigError(`Secret ${namespace}/${name} exists but is not ci-runner's for ${release}`, "delete that Secret; ci-runner owns the <build Job>-git-token names in CICD_NS");
      }
      throw kubeError(error, `refreshing the build's token Secret ${namespace}/${name}`);
    }
  }

  async #ownBy(secret: string, job: string, adopting: boolean): Promise<void> {
    const { core, batch, namespace } = this.#o;
    let uid: string | undefined;
    try {
      uid = (await batch.readNamespacedJob({ name: job, namespace })).metadata?.uid;
    } catch (error) {
      throw kubeError(error, `reading build Job ${namespace}/${job}`);
    }
    const ownerReferences = [{ apiVersion: "batch/v1", kind: "Job", name: job, uid: uid ?? "", controller: false, blockOwnerDeletion: false }];
    try {
      await core.patchNamespacedSecret({ name: secret, namespace, body: { metadata: { ownerReferences } }, fieldManager: MANAGER }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    } catch (error) {
      // Adopting a Job whose Secret is gone: its pod reports that on its own (exit 2, named).
      if (adopting && isStatus(error, 404)) return;
      throw kubeError(error, `making build Job ${namespace}/${job} own its token Secret`);
    }
  }
}
