import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeConfig } from "../../../src/adapters/kube/client.ts";
import { staticAccess } from "../../../src/adapters/kube/kubeconfig.ts";
import { ConfigError } from "../../../src/errors.ts";
import { kubeconfigList } from "../../support/kubeconfig-list.ts";

const base = { context: undefined, inCluster: false, defaultKubeconfig: "/nonexistent" };

describe("the Kubernetes client's kubeconfig", () => {
  it("merges a KUBECONFIG list like kubectl: first definition and first current-context win, missing files skipped", () => {
    const { a, b, list } = kubeconfigList();
    const kc = kubeConfig({ ...base, kubeconfig: list });
    expect(kc.getCurrentContext()).toBe("a");
    expect(kc.getCurrentCluster()).toMatchObject({ server: "https://a:6443", caFile: `${a.dir}/ca.crt` });
    expect(kc.getCurrentUser()).toMatchObject({ token: "a-token" });
    const other = kubeConfig({ ...base, kubeconfig: list, context: "b" });
    expect(other.getCurrentCluster()).toMatchObject({ server: "https://b:6443", caFile: `${b.dir}/ca.crt` });
    expect(other.getCurrentUser()).toMatchObject({ token: "b-token" });
  });

  it("takes current-context from the first file that has one", () => {
    const { list } = kubeconfigList({ firstHasCurrentContext: false });
    expect(kubeConfig({ ...base, kubeconfig: list }).getCurrentCluster()?.server).toBe("https://b:6443");
  });

  it("names the file it cannot read; a list of only missing files, or one missing file, is a config error", () => {
    expect(() => kubeConfig({ ...base, kubeconfig: "/nonexistent/a:/nonexistent/b" })).toThrow(ConfigError);
    expect(() => kubeConfig({ ...base, kubeconfig: "/nonexistent/a" })).toThrow(/cannot read kubeconfig \/nonexistent\/a/);
  });
});

function kubeconfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  writeFileSync(join(dir, "ca.crt"), "CA-PEM");
  writeFileSync(join(dir, "config"), text);
  return join(dir, "config");
}

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
