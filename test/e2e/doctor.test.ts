import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api } from "./env/control-plane.ts";
import { REPO_ROOT } from "./env/environment.ts";
import { e2eWorld, TOKEN, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("ci-runner doctor on the real control plane", () => {
  let world: World;
  let sa: string;
  let env: (extra?: Record<string, string>) => Record<string, string>;
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    sa = await world.serviceAccountKubeconfig("cicd", "ci-runner-app");
    const app = world.app("app");
    app.commit();
    env = (extra = {}) => app.env("helm4", { KUBECONFIG: sa, DEPLOY_NS: "app", RELEASE: "app", ...extra });
  });
  afterAll(async () => world?.close());

  async function doctor(extra: Record<string, string> = {}) {
    const run = await world.run(["doctor"], env(extra));
    const lines = run.stdout.split("\n");
    const failed = lines.filter((l) => l.startsWith("FAIL"));
    return { run, failed, text: run.stdout };
  }

  async function secret(name: string, type: string, data: Record<string, string>) {
    const body = { apiVersion: "v1", kind: "Secret", type, metadata: { name, namespace: "cicd" }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
    const response = await api(world.info.server, world.info.adminToken, world.info.caCert, "/api/v1/namespaces/cicd/secrets", { method: "POST", body: JSON.stringify(body) });
    expect(response.ok || response.status === 409).toBe(true);
  }

  it("passes every check as the ServiceAccount of manifests/", async () => {
    const { run, failed, text } = await doctor();
    expect(failed, text).toEqual([]);
    expect(run.code).toBe(0);
    for (const name of ["GitHub branch", "Build namespace", "Build Job admitted", "Registry secret", "Permissions", "Deploy identity", "Helm", "Chart at the head commit", "State ConfigMap"]) expect(text).toMatch(new RegExp(`^ok {4}${name}: `, "m"));
    const pinned = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).config.helmVersion;
    expect(text).toMatch(new RegExp(`^ok {4}Helm: Helm 4 \\(v${pinned.replaceAll(".", "\\.")}\\)`, "m"));
  });

  it("a missing CICD_NS: the namespace check fails, and sync exits 2 naming it (not transient)", async () => {
    const admin = env({ KUBECONFIG: world.adminKubeconfig, CICD_NS: "no-such-ns" });
    const { run, text } = await doctor({ KUBECONFIG: world.adminKubeconfig, CICD_NS: "no-such-ns" });
    expect(run.code).toBe(2);
    expect(text).toMatch(/^FAIL {2}Build namespace: checking namespace no-such-ns \(CICD_NS\): namespace no-such-ns does not exist$/m);
    const sync = await world.run(["sync", "--once"], admin);
    expect(sync.code, sync.stderr).toBe(2);
    expect(sync.stderr).toContain("namespace no-such-ns does not exist");
  });

  it("a Kaniko image the build policy does not list: the admission check fails with the policy's message", async () => {
    const { run, text } = await doctor({ KANIKO_IMAGE: "e2e.local/kaniko:unlisted" });
    expect(run.code).toBe(2);
    expect(text).toMatch(/^FAIL {2}Build Job admitted: .*refused by admission: .*ValidatingAdmissionPolicy 'ci-runner-build-jobs'.*container kaniko runs e2e.local\/kaniko:unlisted/m);
    expect(text).toMatch(/^ {6}fix: make the object and the cluster's admission policies agree/m);
  });

  it("a rejected token: the GitHub check fails with the fix", async () => {
    const app = world.app("doctor-private", { private: true });
    app.commit();
    const run = await world.run(["doctor"], app.env("helm4", { KUBECONFIG: world.adminKubeconfig, GIT_TOKEN: `${TOKEN}-revoked`, GIT_TOKEN_SECRET: "git-token" }));
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^FAIL {2}GitHub branch: GitHub rejected GIT_TOKEN reading acme\/doctor-private@main .*\(401\)\n {6}fix: create a new token/m);
    expect(run.stdout).not.toContain(TOKEN);
  });

  it.each([
    ["a missing registry Secret", "absent-regcred", undefined, /does not exist\n {6}fix: create it with `kubectl -n cicd create secret docker-registry absent-regcred/],
    ["a registry Secret of the wrong type", "opaque-regcred", "Opaque", /has type Opaque, not kubernetes.io\/dockerconfigjson/],
    ["a registry Secret without an entry for IMAGE's registry", "other-regcred", "kubernetes.io/dockerconfigjson", /has no entry for 127\.0\.0\.1:\d+, the registry of IMAGE/],
  ])("%s: the registry check fails with the fix", async (_name, secretName, type, pattern) => {
    if (type === "Opaque") await secret(secretName, type, { password: "x" });
    if (type === "kubernetes.io/dockerconfigjson") await secret(secretName, type, { ".dockerconfigjson": JSON.stringify({ auths: { "ghcr.io": { auth: Buffer.from("u:p").toString("base64") } } }) });
    const { run, failed, text } = await doctor({ KUBECONFIG: world.adminKubeconfig, REGISTRY_SECRET: secretName });
    expect(run.code).toBe(2);
    expect(failed).toEqual([expect.stringMatching(/^FAIL {2}Registry secret: /)]);
    expect(text).toMatch(pattern);
  });

  it("a right the chart at the head needs and the deploy identity lacks is named, with the command that grants it", async () => {
    const path = "/apis/rbac.authorization.k8s.io/v1/namespaces/app/roles/ci-runner-deploy";
    const role = await world.get<{ rules: { resources: string[] }[] }>(path);
    if (!role) throw new Error("no deploy Role");
    const without = { ...role, rules: role.rules.filter((r) => !r.resources.includes("replicasets")) };
    await api(world.info.server, world.info.adminToken, world.info.caCert, path, { method: "PUT", body: JSON.stringify(without) });
    try {
      const { run, failed, text } = await doctor();
      expect(run.code).toBe(2);
      const lacks = ["get", "list", "watch"].map((verb) => `system:serviceaccount:app:ci-runner-deploy cannot ${verb} replicasets.apps in namespace app`);
      expect(failed).toEqual([`FAIL  Chart at the head commit: ${lacks.join("; ")}`]);
      expect(text).toContain("fix: run the same `ci-runner install` again: it grants the deploy identity what the chart at the head renders");
    } finally {
      const current = await world.get<Record<string, unknown>>(path);
      await api(world.info.server, world.info.adminToken, world.info.caCert, path, { method: "PUT", body: JSON.stringify({ ...current, rules: role.rules }) });
    }
  });

  it("helm missing: the Helm check fails, and the chart check names it as the cause", async () => {
    const { run, failed } = await doctor({ HELM_BIN: "/nonexistent/helm" });
    expect(run.code).toBe(2);
    expect(failed).toEqual([expect.stringMatching(/^FAIL {2}Helm: cannot run helm \(\/nonexistent\/helm\)/), "FAIL  Chart at the head commit: helm does not run (see Helm above)"]);
  });

  it("no chart at the head commit: the chart check fails", async () => {
    const { run, failed } = await doctor({ CHART_PATH: "deploy/missing" });
    expect(run.code).toBe(2);
    expect(failed).toEqual([expect.stringMatching(/^FAIL {2}Chart at the head commit: commit [0-9a-f]{12} has no Helm chart at CHART_PATH=deploy\/missing/)]);
  });

  it("a state ConfigMap it may not read: the state check (and the permission check) fail", async () => {
    const { run, failed } = await doctor({ STATE_CONFIGMAP: "someone-elses-state" });
    expect(run.code).toBe(2);
    expect(failed).toEqual([
      expect.stringMatching(/^FAIL {2}Permissions: missing get configmaps "someone-elses-state" in namespace cicd; patch configmaps "someone-elses-state" in namespace cicd$/),
      expect.stringMatching(/^FAIL {2}State ConfigMap: reading state configmap cicd\/someone-elses-state: configmaps "someone-elses-state" is forbidden/),
    ]);
  });
});
