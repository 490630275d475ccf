import { describe, expect, it } from "vitest";
import { loadKubeConfig } from "../../src/adapters/kube.ts";
import { ConfigError } from "../../src/errors.ts";
import { kubeconfigList } from "../support/kubeconfig-list.ts";

const base = { context: undefined, inCluster: false, defaultKubeconfig: "/nonexistent" };

describe("loadKubeConfig", () => {
  it("merges a KUBECONFIG list like kubectl: first definition and first current-context win, missing files skipped", () => {
    const { a, b, list } = kubeconfigList();
    const kc = loadKubeConfig({ ...base, kubeconfig: list });
    expect(kc.getCurrentContext()).toBe("a");
    expect(kc.getCurrentCluster()).toMatchObject({ server: "https://a:6443", caFile: `${a.dir}/ca.crt` });
    expect(kc.getCurrentUser()).toMatchObject({ token: "a-token" });
    const other = loadKubeConfig({ ...base, kubeconfig: list, context: "b" });
    expect(other.getCurrentCluster()).toMatchObject({ server: "https://b:6443", caFile: `${b.dir}/ca.crt` });
    expect(other.getCurrentUser()).toMatchObject({ token: "b-token" });
  });

  it("takes current-context from the first file that has one", () => {
    const { list } = kubeconfigList({ firstHasCurrentContext: false });
    expect(loadKubeConfig({ ...base, kubeconfig: list }).getCurrentCluster()?.server).toBe("https://b:6443");
  });

  it("names the file it cannot read; a list of only missing files, or one missing file, is a config error", () => {
    expect(() => loadKubeConfig({ ...base, kubeconfig: "/nonexistent/a:/nonexistent/b" })).toThrow(ConfigError);
    expect(() => loadKubeConfig({ ...base, kubeconfig: "/nonexistent/a" })).toThrow(/cannot read kubeconfig \/nonexistent\/a/);
  });
});
