import { describe, expect, it } from "vitest";
import { mayCarryCredentials, registrySchemes } from "../../../src/adapters/registry/hosts.ts";
import type { Transport } from "../../../src/adapters/http/transport.ts";
import { RegistryV2 } from "../../../src/adapters/registry/registry.ts";
import { Secrets } from "../../../src/log.ts";
import { apis } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const DIGEST = `sha256:${"d".repeat(64)}`;
const SHA = "0123456789abcdef0123456789abcdef01234567";
const MANIFEST = `/v2/acme/shop/manifests/${SHA}`;
const SECRET = "/api/v1/namespaces/cicd/secrets/regcred";
const api = strictServerPerTest();
const registry = strictServerPerTest();
const elsewhere = strictServerPerTest();

function dockerSecret(host: string) {
  const config = { auths: { [host]: { auth: Buffer.from("robot:hunter2-pass").toString("base64") } } };
  return { status: 200, body: { kind: "Secret", apiVersion: "v1", type: "kubernetes.io/dockerconfigjson", metadata: { name: "regcred" }, data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") } } };
}

function warnings(lines: string[]) {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.level === "warn");
}

describe("reaching the registry as Kaniko does", () => {
  it("a plain-HTTP registry, even on a local address, is asked over http only with REGISTRY_INSECURE: nothing goes in the clear unasked", async () => {
    const lines: string[] = [];
    const host = new URL(registry.url).host;
    const strict = new RegistryV2({ image: `${host}/acme/shop`, insecure: false, namespace: "cicd", secretName: undefined, core: apis(api.url).core, secrets: new Secrets(), log: testLog(lines) });
    expect(await strict.digestOf(SHA)).toBeUndefined();
    expect(registry.seen).toEqual([]); // the TLS handshake it failed is no HTTP request
    expect(warnings(lines)[0]).toMatchObject({ msg: "Registry unreachable; building the image", remedy: expect.stringContaining("REGISTRY_INSECURE=true") });
    registry.expect({ method: "HEAD", path: MANIFEST, reply: { status: 200, headers: { "docker-content-digest": DIGEST } } });
    const insecure = new RegistryV2({ image: `${host}/acme/shop`, insecure: true, namespace: "cicd", secretName: undefined, core: apis(api.url).core, secrets: new Secrets(), log: testLog() });
    expect(await insecure.digestOf(SHA)).toBe(DIGEST);
  });

  it("a registry it cannot reach is never skipped silently: the warning names it and the setting", async () => {
    const asked: string[] = [];
    const refuse: Transport = async (url) => {
      asked.push(url);
      throw Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" });
    };
    const lines: string[] = [];
    const check = new RegistryV2({ image: "registry.example.com/acme/shop", insecure: false, namespace: "cicd", secretName: undefined, core: apis(api.url).core, secrets: new Secrets(), log: testLog(lines), transport: refuse });
    expect(await check.digestOf(SHA)).toBeUndefined();
    expect(asked).toEqual([`https://registry.example.com${MANIFEST}`]); // never plain http to a public host unasked
    expect(warnings(lines)).toEqual([expect.objectContaining({ msg: "Registry unreachable; building the image", registry: "registry.example.com", tried: ["https: ECONNREFUSED"], remedy: expect.stringContaining("REGISTRY_INSECURE=true") })]);
  });

  it("never sends credentials to a token realm on another host over plain HTTP", async () => {
    const host = new URL(registry.url).host;
    const realm = `http://localhost:${new URL(elsewhere.url).port}/token`; // another host name, in the clear
    api.expect({ method: "GET", path: SECRET, reply: dockerSecret(host) });
    registry.expect({ method: "HEAD", path: MANIFEST, reply: { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}",service="reg"` } } });
    const lines: string[] = [];
    const check = new RegistryV2({ image: `${host}/acme/shop`, insecure: true, namespace: "cicd", secretName: "regcred", core: apis(api.url).core, secrets: new Secrets(), log: testLog(lines) });
    expect(await check.digestOf(SHA)).toBeUndefined();
    expect(elsewhere.seen).toEqual([]);
    expect(warnings(lines)[0]).toMatchObject({ registry: host, realm, msg: expect.stringMatching(/not sending credentials there/) });
  });
});

describe("which schemes, and where credentials may go", () => {
  it.each([
    ["ghcr.io", false, ["https"]],
    ["ghcr.io", true, ["https", "http"]],
    ["localhost:5000", false, ["https"]],
    ["127.0.0.1:5000", false, ["https"]],
    ["10.96.0.10:5000", false, ["https"]],
    ["10.96.0.10:5000", true, ["https", "http"]],
    ["registry.cicd.svc.cluster.local:5000", false, ["https"]],
  ] as const)("%s (insecure %s) -> %j", (host, insecure, expected) => {
    expect(registrySchemes(host, insecure)).toEqual(expected);
  });

  it.each([
    ["https://auth.docker.io/token", "https", true],
    ["http://reg.local:5000/token", "http", true],
    ["http://reg.local:5000/token", "https", false],
    ["http://auth.elsewhere/token", "http", false],
    // A challenge that came in the clear may have been written on the path: not even a TLS realm elsewhere.
    ["https://auth.elsewhere/token", "http", false],
    ["file:///etc/passwd", "http", false],
  ] as const)("%s while talking %s to reg.local:5000 -> %s", (url, scheme, expected) => {
    expect(mayCarryCredentials(new URL(url), { host: "reg.local:5000", scheme })).toBe(expected);
  });
});
