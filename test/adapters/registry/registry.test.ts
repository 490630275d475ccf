import { beforeEach, describe, expect, it } from "vitest";
import { parseImage, RegistryV2 } from "../../../src/adapters/registry/registry.ts";
import { ConfigError } from "../../../src/errors.ts";
import { Secrets } from "../../../src/log.ts";
import { apis } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const DIGEST = `sha256:${"c".repeat(64)}`;
const SHA = "0123456789abcdef0123456789abcdef01234567";
const api = strictServerPerTest();
const registry = strictServerPerTest();
let secrets: Secrets;

beforeEach(() => {
  secrets = new Secrets();
});

function dockerSecret(host: string, user = "robot", password = "hunter2-pass", type = "kubernetes.io/dockerconfigjson") {
  const config = { auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } };
  return { status: 200, body: { kind: "Secret", apiVersion: "v1", type, metadata: { name: "regcred" }, data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") } } };
}

function client(secretName: string | undefined) {
  const host = new URL(registry.url).host;
  return new RegistryV2({ image: `${host}/acme/shop`, insecure: true, namespace: "cicd", secretName, core: apis(api.url).core, secrets, log: testLog() });
}

const SECRET = "/api/v1/namespaces/cicd/secrets/regcred";
const MANIFEST = `/v2/acme/shop/manifests/${SHA}`;

describe("registry v2 image check", () => {
  it("finds the digest with Basic credentials from the registry Secret, sent only once the registry asks for them", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(new URL(registry.url).host) });
    registry.expect(
      { method: "HEAD", path: MANIFEST, check: (r) => expect(r.headers.authorization).toBeUndefined(), reply: { status: 401, headers: { "www-authenticate": 'Basic realm="registry"' } } },
      {
        method: "HEAD", path: MANIFEST,
        check: (r) => {
          expect(r.headers.authorization).toBe(`Basic ${Buffer.from("robot:hunter2-pass").toString("base64")}`);
          expect(r.headers.accept).toContain("application/vnd.oci.image.index.v1+json");
        },
        reply: { status: 200, headers: { "docker-content-digest": DIGEST } },
      },
    );
    expect(await client("regcred").digestOf(SHA)).toBe(DIGEST);
    expect(secrets.scrub("hunter2-pass")).toBe("[REDACTED]");
  });

  it("follows a Bearer challenge to the token endpoint", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(new URL(registry.url).host) });
    registry.expect(
      { method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": `Bearer realm="${registry.url}/token",service="reg",scope="repository:acme/shop:pull"` } } },
      { method: "GET", path: "/token?service=reg&scope=repository%3Aacme%2Fshop%3Apull", check: (r) => expect(r.headers.authorization).toMatch(/^Basic /), reply: { status: 200, body: { token: "tok-123456" } } },
      { method: "HEAD", path: MANIFEST, check: (r) => expect(r.headers.authorization).toBe("Bearer tok-123456"), reply: { status: 200, headers: { "docker-content-digest": DIGEST } } },
    );
    expect(await client("regcred").digestOf(SHA)).toBe(DIGEST);
    expect(secrets.scrub("tok-123456")).toBe("[REDACTED]");
  });

  it("a registry that refuses the Secret's credentials is a config error naming the Secret: no build would push", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(new URL(registry.url).host, "robot", "wrong") });
    registry.expect(
      { method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": 'Basic realm="registry"' } } },
      { method: "HEAD", path: MANIFEST, check: (r) => expect(r.headers.authorization).toMatch(/^Basic /), reply: { status: 401, headers: { "www-authenticate": 'Basic realm="registry"' } } },
    );
    const error = await client("regcred").digestOf(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`registry ${new URL(registry.url).host} refused the credentials in REGISTRY_SECRET cicd/regcred (HTTP 401)`);
  });

  it("a 401 to a Bearer token we were given is no verdict on the Secret: absent, the image gets built", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(new URL(registry.url).host) });
    registry.expect(
      { method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": `Bearer realm="${registry.url}/token",service="reg"` } } },
      { method: "GET", path: /^\/token\?/, reply: { status: 200, body: { token: "tok-123456" } } },
      // As registries answer for a repository that does not exist yet.
      { method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": 'Bearer realm="x",error="insufficient_scope"' } } },
    );
    expect(await client("regcred").digestOf(SHA)).toBeUndefined();
  });

  it("a token endpoint that refuses the Secret's credentials is a config error naming the Secret", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(new URL(registry.url).host, "robot", "wrong") });
    registry.expect(
      { method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": `Bearer realm="${registry.url}/token",service="reg"` } } },
      { method: "GET", path: /^\/token\?/, reply: { status: 401, body: { errors: [{ code: "UNAUTHORIZED" }] } } },
    );
    await expect(client("regcred").digestOf(SHA)).rejects.toThrow(`registry ${new URL(registry.url).host} refused the credentials in REGISTRY_SECRET cicd/regcred (its token endpoint answered HTTP 401)`);
  });

  it("an image that is not there is absent", async () => {
    registry.expect({ method: "HEAD", path: MANIFEST, check: (r) => expect(r.headers.authorization).toBeUndefined(), reply: { status: 404 } });
    expect(await client(undefined).digestOf(SHA)).toBeUndefined();
  });

  it("when in doubt it answers absent, so the image gets built", async () => {
    registry.expect({ method: "HEAD", path: MANIFEST, reply: { status: 500 } });
    expect(await client(undefined).digestOf(SHA)).toBeUndefined();
  });

  it("a registry Secret of the wrong type is a config error with the fix", async () => {
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret("x", "u", "p", "Opaque") });
    const error = await client("regcred").digestOf(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe("registry secret cicd/regcred has type Opaque, not kubernetes.io/dockerconfigjson");
    expect((error as ConfigError).remedy).toMatch(/kubectl -n cicd create secret docker-registry regcred/);
  });

  it("a missing registry Secret is a config error", async () => {
    api.expect({ method: "GET", path: SECRET, reply: { status: 404, body: { kind: "Status", code: 404 } } });
    await expect(client("regcred").digestOf(SHA)).rejects.toThrow(/REGISTRY_SECRET\) does not exist/);
  });
});

describe("image references", () => {
  it.each([
    ["ghcr.io/acme/shop", { host: "ghcr.io", repository: "acme/shop" }],
    ["localhost:5000/shop", { host: "localhost:5000", repository: "shop" }],
    ["acme/shop", { host: "registry-1.docker.io", repository: "acme/shop" }],
    ["docker.io/acme/shop", { host: "registry-1.docker.io", repository: "acme/shop" }],
    ["shop", { host: "registry-1.docker.io", repository: "library/shop" }],
  ])("%s", (image, expected) => {
    expect(parseImage(image)).toEqual(expected);
  });
});

describe("an IMAGE shared by two build configurations", () => {
  const RECIPE = "https://github.com/acme/shop dockerfile=Dockerfile context=. args=REVISION={sha}";
  const CONFIG = `sha256:${"e".repeat(64)}`;
  const withRecipe = () => {
    const host = new URL(registry.url).host;
    return new RegistryV2({ image: `${host}/acme/shop`, insecure: true, namespace: "cicd", secretName: undefined, core: apis(api.url).core, secrets, log: testLog(), recipe: RECIPE });
  };
  const existing = (labels: Record<string, string> | null) => [
    { method: "HEAD", path: MANIFEST, reply: { status: 200, headers: { "docker-content-digest": DIGEST } } },
    { method: "GET", path: MANIFEST, reply: { status: 200, body: { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: CONFIG, size: 100 }, layers: [] } } },
    { method: "GET", path: `/v2/acme/shop/blobs/${CONFIG}`, reply: { status: 200, body: { architecture: "amd64", config: { Labels: labels } } } },
  ] as const;

  it("an image built another way is refused, naming both recipes, never overwritten or deployed", async () => {
    registry.expect(...existing({ "ci-runner.dev/recipe": "https://github.com/acme/shop dockerfile=Dockerfile.debug context=. args=REVISION={sha}" }));
    const error = await withRecipe().digestOf(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`${new URL(registry.url).host}/acme/shop:${SHA} (${DIGEST}) was built by another build configuration (https://github.com/acme/shop dockerfile=Dockerfile.debug context=. args=REVISION={sha}), not this release's (${RECIPE})`);
    expect((error as ConfigError).remedy).toMatch(/its own IMAGE/);
  });

  it("an image built the same way, or without the label (pushed by hand, or by an older ci-runner), is no conflict", async () => {
    registry.expect(...existing({ "ci-runner.dev/recipe": RECIPE }), ...existing(null));
    expect(await withRecipe().digestOf(SHA)).toBe(DIGEST);
    expect(await withRecipe().digestOf(SHA)).toBe(DIGEST);
  });
});
