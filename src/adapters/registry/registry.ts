import type { CoreV1Api } from "@kubernetes/client-node";
import { z } from "zod";
import { ConfigError } from "../../errors.ts";
import type { Logger, Secrets } from "../../log.ts";
import type { ImageRegistry } from "../../reconcile/ports.ts";
import { TIMEOUTS } from "../http/timeouts.ts";
import { httpTransport, networkFailure, type Transport, type TransportResponse } from "../http/transport.ts";
import { LABELS } from "../../names.ts";
import { isStatus, kubeError } from "../kube/errors.ts";
import { parseJsonOrUndefined } from "../json.ts";
import { mayCarryCredentials, registrySchemes } from "./hosts.ts";

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const ImageManifest = z.object({ config: z.object({ digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) }).optional() });
const ImageConfig = z.object({ config: z.object({ Labels: z.record(z.string(), z.string()).nullable().optional() }).optional() });

const DockerConfig = z.object({
  auths: z.record(z.string(), z.object({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional() })),
});

export interface ImageRef {
  readonly host: string;
  readonly repository: string;
}

/** Splits IMAGE into registry host and repository, as Docker does (no dot or port: Docker Hub). */
export function parseImage(image: string): ImageRef {
  const [first = "", ...rest] = image.split("/");
  if (rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    return { host: first === "docker.io" ? "registry-1.docker.io" : first, repository: rest.join("/") };
  }
  return { host: "registry-1.docker.io", repository: rest.length ? image : `library/${image}` };
}

export interface RegistryOptions {
  readonly image: string;
  readonly insecure: boolean;
  readonly namespace: string;
  readonly secretName: string | undefined;
  readonly core: CoreV1Api;
  readonly secrets: Secrets;
  readonly log: Logger;
  /** Carries the registry requests; ci-runner's HTTP client by default. */
  readonly transport?: Transport;
  /**
   * How this target builds IMAGE (build/job.ts `buildRecipe`), which its builds carry as the label
   * LABELS.recipe. An IMAGE:<sha> labelled with another recipe is another release's image: never
   * overwritten, never deployed here.
   */
  readonly recipe?: string;
}

interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Why the check could not run, for the warning a user reads: the setting that may fix it. */
const REACH_HINT = "set REGISTRY_INSECURE=true if the registry speaks plain HTTP, or trust its CA";

/**
 * Asks the registry (Registry v2 API) whether IMAGE:<tag> exists, with the credentials of the
 * registry Secret. Any doubt (unreachable, refused) answers "absent": building again is safe; but
 * never silently: a warning names the registry and what to set.
 */
export class RegistryV2 implements ImageRegistry {
  readonly #o: RegistryOptions;
  readonly #ref: ImageRef;
  readonly #transport: Transport;

  constructor(options: RegistryOptions) {
    this.#o = options;
    this.#ref = parseImage(options.image);
    this.#transport = options.transport ?? httpTransport();
  }

  async digestOf(tag: string): Promise<string | undefined> {
    const credentials = await this.#credentials();
    const { host } = this.#ref;
    const path = `/v2/${this.#ref.repository}/manifests/${tag}`;
    const errors: string[] = [];
    for (const scheme of registrySchemes(host, this.#o.insecure)) {
      const registry = { host, scheme };
      const url = `${scheme}://${host}${path}`;
      let response: TransportResponse;
      try {
        // Without credentials first: they go only where the registry's challenge asks for them.
        response = await this.#head(url, undefined);
      } catch (error) {
        errors.push(`${scheme}: ${networkFailure(error)}`);
        continue; // the next scheme, as Kaniko's client does
      }
      // Whether a 401 we end with refused the Secret's own credentials (Basic, sent to the registry
      // itself). A 401 to a Bearer token says nothing about them: registries answer so for a
      // repository that does not exist yet, or for a token of too little scope.
      let refusedBasic = false;
      let authorization: string | undefined;
      try {
        if (response.status === 401) {
          const challenge = response.headers.get("www-authenticate") ?? "";
          authorization = await this.#authorize(challenge, credentials, registry);
          if (authorization) response = await this.#head(url, authorization);
          refusedBasic = /^basic/i.test(challenge) && authorization !== undefined && response.status === 401;
        }
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        this.#o.log.warn({ registry: host, image: this.#o.image, error: networkFailure(error), remedy: REACH_HINT }, "Registry token endpoint unreachable; building the image");
        return undefined;
      }
      if (response.status === 200) {
        const digest = response.headers.get("docker-content-digest") ?? undefined;
        await this.#assertOurRecipe(`${scheme}://${host}`, tag, digest, authorization);
        return digest;
      }
      if (refusedBasic) {
        // The registry itself refused our credentials: the push would be refused the same way, on
        // every tick and for every commit. Say so now instead of counting a build failure.
        throw this.#refused(host, "HTTP 401");
      }
      if (response.status !== 404) this.#o.log.warn({ registry: host, status: response.status, image: this.#o.image, remedy: response.status === 401 || response.status === 403 ? "check REGISTRY_SECRET's credentials for this registry" : REACH_HINT }, "Registry did not say whether the image exists; building it");
      return undefined;
    }
    this.#o.log.warn({ registry: host, image: this.#o.image, tried: errors, remedy: REACH_HINT }, "Registry unreachable; building the image");
    return undefined;
  }

  /**
   * IMAGE:<tag> exists: refuse it when its recipe label names another build configuration (the
   * label is read from the image's config; an image without the label, pushed by hand or by an
   * older ci-runner, is no conflict). A read that fails is left alone: the check guards against a
   * misconfiguration, and the build that follows pushes the same tag under our own recipe.
   */
  async #assertOurRecipe(base: string, tag: string, digest: string | undefined, authorization: string | undefined): Promise<void> {
    if (this.#o.recipe === undefined) return;
    const labels = await this.#labels(base, tag, authorization).catch((error: unknown) => {
      this.#o.log.debug({ image: this.#o.image, error: networkFailure(error) }, "Could not read the labels of the image in the registry");
      return undefined;
    });
    const theirs = labels?.[LABELS.recipe];
    if (theirs === undefined || theirs === this.#o.recipe) return;
    throw new ConfigError(
      `${this.#o.image}:${tag}${digest ? ` (${digest})` : ""} was built by another build configuration (${theirs}), not this release's (${this.#o.recipe})`,
      "give each build configuration (DOCKERFILE, BUILD_CONTEXT, BUILD_ARGS, repository) its own IMAGE; two releases may share an IMAGE only when they build it the same way",
    );
  }

  /** The image config's labels: the manifest, then its config blob (one platform; an index has none of ours). */
  async #labels(base: string, tag: string, authorization: string | undefined): Promise<Record<string, string> | undefined> {
    const headers = { accept: MANIFEST_TYPES, ...(authorization ? { authorization } : {}) };
    const get = (path: string) => this.#transport(`${base}/v2/${this.#ref.repository}/${path}`, { headers, signal: AbortSignal.timeout(TIMEOUTS.registryMs) });
    const manifest = await get(`manifests/${tag}`);
    if (manifest.status !== 200) return undefined;
    const config = ImageManifest.safeParse(parseJsonOrUndefined(await manifest.text())).data?.config?.digest;
    if (config === undefined) return undefined;
    const blob = await get(`blobs/${config}`);
    if (blob.status !== 200) return undefined;
    return ImageConfig.safeParse(parseJsonOrUndefined(await blob.text())).data?.config?.Labels ?? undefined;
  }

  #refused(host: string, how: string): ConfigError {
    const secret = `${this.#o.namespace}/${this.#o.secretName ?? "?"}`;
    return new ConfigError(`registry ${host} refused the credentials in REGISTRY_SECRET ${secret} (${how})`, `recreate the Secret with working credentials: kubectl -n ${this.#o.namespace} create secret docker-registry ${this.#o.secretName ?? "<name>"} --docker-server=${host} --docker-username=... --docker-password=...`);
  }

  /** For `doctor`: the registry Secret is usable for IMAGE's registry, or a ConfigError says why. */
  async checkSecret(): Promise<string> {
    const { secretName, namespace } = this.#o;
    if (secretName === undefined) return "REGISTRY_SECRET is not set: Kaniko pushes without credentials";
    const credentials = await this.#credentials();
    if (credentials === undefined) {
      throw new ConfigError(`registry secret ${namespace}/${secretName} has no entry for ${this.#ref.host}, the registry of IMAGE`, `recreate it with \`kubectl -n ${namespace} create secret docker-registry ${secretName} --docker-server=${this.#ref.host} --docker-username=... --docker-password=...\``);
    }
    return `${namespace}/${secretName} (kubernetes.io/dockerconfigjson) has credentials for ${this.#ref.host}`;
  }

  #head(url: string, authorization: string | undefined): Promise<TransportResponse> {
    return this.#transport(url, { method: "HEAD", headers: { accept: MANIFEST_TYPES, ...(authorization ? { authorization } : {}) }, signal: AbortSignal.timeout(TIMEOUTS.registryMs) });
  }

  /** The token dance of Docker-style registries: Bearer realm -> token, with Basic credentials. */
  async #authorize(challenge: string, credentials: Credentials | undefined, registry: { host: string; scheme: "https" | "http" }): Promise<string | undefined> {
    if (/^basic/i.test(challenge)) return credentials ? basic(credentials) : undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!/^bearer/i.test(challenge) || !params.realm) return undefined;
    const tokenUrl = URL.parse(params.realm);
    if (tokenUrl === null || !mayCarryCredentials(tokenUrl, registry)) {
      // A registry (or whoever answers for it over plain HTTP) must not steer our credentials to
      // another host in the clear.
      this.#o.log.warn({ registry: registry.host, realm: params.realm, image: this.#o.image }, "Registry named a token endpoint that is not https on another host; not sending credentials there");
      return undefined;
    }
    if (params.service) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${this.#ref.repository}:pull`);
    const response = await this.#transport(tokenUrl.href, { headers: credentials ? { authorization: basic(credentials) } : {}, signal: AbortSignal.timeout(TIMEOUTS.registryMs) });
    if ((response.status === 401 || response.status === 403) && credentials !== undefined) {
      throw this.#refused(registry.host, `its token endpoint answered HTTP ${response.status}`);
    }
    if (!response.ok) return undefined;
    const body = z.object({ token: z.string().optional(), access_token: z.string().optional() }).safeParse(await response.json());
    const token = body.success ? (body.data.token ?? body.data.access_token) : undefined;
    this.#o.secrets.add(token);
    return token ? `Bearer ${token}` : undefined;
  }

  async #credentials(): Promise<Credentials | undefined> {
    const { secretName, namespace } = this.#o;
    if (secretName === undefined) return undefined;
    let secret;
    try {
      secret = await this.#o.core.readNamespacedSecret({ name: secretName, namespace });
    } catch (error) {
      if (isStatus(error, 404)) throw new ConfigError(`registry secret ${namespace}/${secretName} (REGISTRY_SECRET) does not exist`, `create it with \`kubectl -n ${namespace} create secret docker-registry ${secretName} --docker-server=${this.#ref.host} ...\``);
      throw kubeError(error, `reading registry secret ${namespace}/${secretName}`);
    }
    const where = `registry secret ${namespace}/${secretName}`;
    if (secret.type !== "kubernetes.io/dockerconfigjson") {
      throw new ConfigError(`${where} has type ${secret.type ?? "(none)"}, not kubernetes.io/dockerconfigjson`, `recreate it with \`kubectl -n ${namespace} create secret docker-registry ${secretName} ...\``);
    }
    const raw = secret.data?.[".dockerconfigjson"];
    const parsed = DockerConfig.safeParse(parseJsonOrUndefined(Buffer.from(raw ?? "", "base64").toString("utf8")));
    if (!parsed.success) throw new ConfigError(`${where} has no valid .dockerconfigjson`, "recreate it with `kubectl create secret docker-registry`");
    const entry = Object.entries(parsed.data.auths).find(([server]) => hostOf(server) === this.#ref.host || (this.#ref.host === "registry-1.docker.io" && /docker\.io/.test(server)))?.[1];
    if (entry === undefined) return undefined;
    const [username = "", password = ""] = entry.auth ? Buffer.from(entry.auth, "base64").toString("utf8").split(/:(.*)/s) : [entry.username, entry.password];
    this.#o.secrets.addBasic(username, password);
    if (entry.auth) this.#o.secrets.add(entry.auth);
    return { username, password };
  }
}

function hostOf(server: string): string {
  return server.replace(/^https?:\/\//, "").split("/")[0] ?? server;
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

