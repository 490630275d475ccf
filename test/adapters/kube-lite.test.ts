import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStateLite, staticAccess } from "../../src/adapters/kube-lite.ts";
import { kubeconfigList } from "../support/kubeconfig-list.ts";
import { strictServer } from "../support/strict-http.ts";

function kubeconfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  writeFileSync(join(dir, "ca.crt"), "CA-PEM");
  writeFileSync(join(dir, "config"), text);
  return join(dir, "config");
}

const base = { context: undefined, inCluster: false, defaultKubeconfig: "/nonexistent" };
const twoContexts = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- {name: dev, cluster: {server: "https://dev:6443", certificate-authority: ca.crt}}
- {name: prod, cluster: {server: "https://prod:6443", certificate-authority-data: "${Buffer.from("PROD-CA").toString("base64")}", insecure-skip-tls-verify: false}}
users:
- {name: dev, user: {token: dev-token}}
- {name: prod, user: {client-certificate-data: "${Buffer.from("CERT").toString("base64")}", client-key-data: "${Buffer.from("KEY").toString("base64")}"}}
- {name: sso, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}}
contexts:
- {name: dev, context: {cluster: dev, user: dev}}
- {name: prod, context: {cluster: prod, user: prod}}
- {name: sso, context: {cluster: prod, user: sso}}
`;

describe("static credentials for the idle tick's read", () => {
  it("reads a token user of the current context, with a CA file relative to the kubeconfig", () => {
    const access = staticAccess({ ...base, kubeconfig: kubeconfig(twoContexts) });
    expect(access).toMatchObject({ server: "https://dev:6443", token: "dev-token", insecure: false });
    expect(access?.ca?.toString()).toBe("CA-PEM");
  });

  it("reads a client-certificate user of --context", () => {
    const access = staticAccess({ ...base, kubeconfig: kubeconfig(twoContexts), context: "prod" });
    expect([access?.cert?.toString(), access?.key?.toString(), access?.ca?.toString()]).toEqual(["CERT", "KEY", "PROD-CA"]);
  });

  it("leaves exec plugins, unknown contexts and unreadable files to the full client", () => {
    expect(staticAccess({ ...base, kubeconfig: kubeconfig(twoContexts), context: "sso" })).toBeUndefined();
    expect(staticAccess({ ...base, kubeconfig: kubeconfig(twoContexts), context: "nope" })).toBeUndefined();
    expect(staticAccess({ ...base, kubeconfig: "/a/config:/b/config" })).toBeUndefined();
    expect(staticAccess({ ...base, kubeconfig: "/nonexistent/config" })).toBeUndefined();
  });

  it("merges a KUBECONFIG list like kubectl: first definition and first current-context win, missing files skipped", () => {
    const { list } = kubeconfigList();
    const access = staticAccess({ ...base, kubeconfig: list });
    expect(access).toMatchObject({ server: "https://a:6443", token: "a-token" });
    expect(access?.ca?.toString()).toBe("A-CA");
    const b = staticAccess({ ...base, kubeconfig: list, context: "b" });
    expect(b).toMatchObject({ server: "https://b:6443", token: "b-token" });
    expect(b?.ca?.toString(), "a relative path is resolved against its own file").toBe("B-CA");
  });

  it("takes current-context from the first file that has one", () => {
    const { list } = kubeconfigList({ firstHasCurrentContext: false });
    expect(staticAccess({ ...base, kubeconfig: list })).toMatchObject({ server: "https://b:6443", token: "b-token" });
  });
});

describe("the lite state read", () => {
  let server: Awaited<ReturnType<typeof strictServer>>;
  const PATH = "/api/v1/namespaces/cicd/configmaps/ci-runner-shop";
  beforeEach(async () => { server = await strictServer(); });
  afterEach(async () => { server.verify(); await server.close(); });
  const access = () => ({ server: server.url, token: "t0k3n", insecure: false });

  it("decodes the annotations and resourceVersion", async () => {
    const sha = "a".repeat(40);
    server.expect({ method: "GET", path: PATH, check: (r) => expect(r.headers.authorization).toBe("Bearer t0k3n"),
      reply: { status: 200, body: { metadata: { resourceVersion: "9", annotations: { "ci-runner.dev/head-sha": sha, "ci-runner.dev/head-etag": "e" } } } } });
    expect(await readStateLite(access(), "cicd", "ci-runner-shop")).toEqual({ state: { head: { sha, etag: "e" } }, resourceVersion: "9", warnings: [] });
  });

  it("a missing ConfigMap is empty state", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 404, body: {} } });
    expect(await readStateLite(access(), "cicd", "ci-runner-shop")).toEqual({ state: {}, resourceVersion: undefined, warnings: [] });
  });

  it("any other answer hands over to the full client (which reports it properly)", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 403, body: { message: "forbidden" } } });
    expect(await readStateLite(access(), "cicd", "ci-runner-shop")).toBeUndefined();
    expect(await readStateLite({ server: "http://127.0.0.1:1", insecure: false }, "cicd", "x")).toBeUndefined();
  });
});
