import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { grants, type PolicyRule } from "../../src/install/rbac.ts";
import { REPO_ROOT } from "./env/environment.ts";
import { ingressTemplate } from "./support/app.ts";
import { type App, e2eWorld, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface Obj { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; rules?: PolicyRule[]; [k: string]: unknown }

const RUNNER_IMAGE = "e2e.local/ci-runner:test";

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("ci-runner install on the real control plane", () => {
  let world: World;
  let app: App;
  // Release inst deploys into inst-app, a namespace nobody made yet: install makes it.
  const settings = { RELEASE: "inst", DEPLOY_NS: "inst-app" };
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    app = world.app("inst");
    app.commit();
  });
  afterAll(async () => world?.close());

  const kubectl = (...args: string[]) => execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, ...args], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  const env = (extra: Record<string, string> = {}) => app.env("helm4", { ...settings, ...extra });
  const install = (args: string[] = [], extra: Record<string, string> = {}) => world.run(["install", "--runner-image", RUNNER_IMAGE, ...args], env(extra));
  const exists = async (path: string) => (await world.get(path)) !== undefined;
  const errorOf = (run: { logs: { msg?: string; remedy?: string }[] }) => run.logs.find((l) => l.msg?.startsWith("install refused"));

  it("bad input: exit 2 naming the input and the fix, before anything is written", async () => {
    const noImage = await world.run(["install"], env());
    expect(noImage.code).toBe(2);
    expect(errorOf(noImage)?.msg).toContain("--runner-image is required");

    const badSchedule = await install(["--schedule", "every minute"]);
    expect(badSchedule.code).toBe(2);
    expect(errorOf(badSchedule)?.msg).toContain('--schedule "every minute" is not a cron schedule');

    const noSecret = await install([], { REGISTRY_SECRET: "missing-regcred" });
    expect(noSecret.code).toBe(2);
    expect(errorOf(noSecret)?.msg).toContain("REGISTRY_SECRET: Secret cicd/missing-regcred does not exist; create it first: kubectl -n cicd create secret docker-registry missing-regcred");
    expect(errorOf(noSecret)?.remedy).toContain("nothing was changed");

    const appWithoutKey = await install([], { GITHUB_APP_ID: String(world.git.app.id), GITHUB_APP_PRIVATE_KEY: world.git.app.privateKey });
    expect(appWithoutKey.code).toBe(2);
    expect(errorOf(appWithoutKey)?.msg).toContain("--github-app-key-secret is not");

    // A chart that does not render, and one with a kind this cluster does not serve.
    app.commit({ "chart/templates/broken.yaml": "{{ .Values.missing.field }}\n" });
    const broken = await install();
    expect(broken.code).toBe(2);
    expect(errorOf(broken)?.msg).toMatch(/the chart at [0-9a-f]{12}: helm could not render the chart/);
    app.commit({ "chart/templates/broken.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: app\n" });
    const crd = await install();
    expect(crd.code).toBe(2);
    expect(errorOf(crd)?.msg).toContain("ServiceMonitor app: this cluster serves no ServiceMonitor in monitoring.coreos.com/v1; install the CRD that defines it first");
    app.commit({ "chart/templates/broken.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: app-everything\nrules: []\n" });
    const clusterWide = await install();
    expect(clusterWide.code).toBe(2);
    expect(errorOf(clusterWide)?.msg).toContain("ClusterRole app-everything is cluster-scoped; a chart may create objects in DEPLOY_NS (inst-app) only");
    app.commit({ "chart/templates/broken.yaml": "# nothing\n" });

    expect(await exists("/api/v1/namespaces/inst-app")).toBe(false);
    expect(await exists("/apis/batch/v1/namespaces/cicd/cronjobs/ci-runner-inst")).toBe(false);
    expect(await exists("/api/v1/namespaces/cicd/serviceaccounts/ci-runner-inst")).toBe(false);
  });

  it("-o yaml for the base example's settings grants what manifests/ grants, and writes nothing", async () => {
    // manifests/ as shipped: the GitHub App's token Secrets and Events are granted there.
    kubectl("-n", "cicd", "create", "secret", "generic", "github-app", "--from-literal=private-key=unused");
    const printed = await world.run(["install", "--runner-image", RUNNER_IMAGE, "--github-app-key-secret", "github-app", "-o", "yaml"], app.env("helm4", {
      RELEASE: "app", DEPLOY_NS: "app", KUBE_EVENTS: "true", GITHUB_APP_ID: String(world.git.app.id), GITHUB_APP_PRIVATE_KEY: world.git.app.privateKey,
    }));
    expect(printed.code, printed.stderr).toBe(0);
    const ours = parseAllDocuments(printed.stdout).map((d) => d.toJSON() as Obj);
    const base = parseAllDocuments(kubectl("kustomize", join(REPO_ROOT, "manifests"))).map((d) => d.toJSON() as Obj);
    // What each identity may do in a namespace, whatever its Roles are called.
    const granted = (objs: Obj[], ns: string, deploy: boolean) => objs
      .filter((o) => o.kind === "Role" && o.metadata.namespace === ns && (o.metadata.name === "ci-runner-deploy") === deploy)
      .flatMap((o) => grants(o.rules ?? [])).sort();
    // The runner gets exactly what the base grants it, in both namespaces.
    for (const ns of ["cicd", "app"]) expect(granted(ours, ns, false), `the runner in ${ns}`).toEqual(granted(base, ns, false));
    // helm's identity gets what this chart renders (a Deployment: the base grants an example
    // chart's Service, ConfigMap and ServiceAccount too), never more than the base.
    const deploy = granted(ours, "app", true);
    expect(deploy.filter((g) => !granted(base, "app", true).includes(g))).toEqual([]);
    expect(deploy).toEqual(expect.arrayContaining(["create deployments.apps", "delete secrets", "list replicasets.apps"]));
    expect(deploy.some((g) => g.includes("services"))).toBe(false);
    // Both namespaces exist (made by manifests/): install leaves a namespace it did not make alone.
    expect(ours.filter((o) => o.kind === "Namespace")).toEqual([]);
    expect(ours.map((o) => o.kind)).toEqual(expect.arrayContaining(["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "CronJob"]));
    const cron = ours.find((o) => o.kind === "CronJob") as Obj & { spec: { jobTemplate: { spec: { template: { spec: { serviceAccountName: string; containers: { image: string; env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } } } } };
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe("ci-runner-app");
    expect(pod.containers[0]?.image).toBe(RUNNER_IMAGE);
    // The laptop's kubeconfig and helm stay on the laptop.
    expect(pod.containers[0]?.env.map((e) => e.name)).not.toEqual(expect.arrayContaining(["KUBECONFIG", "HELM_BIN"]));
    expect(await exists("/apis/batch/v1/namespaces/cicd/cronjobs/ci-runner-app")).toBe(true); // the base's own, untouched
  });

  it("installs a runner whose own identity deploys; a second install changes nothing; a new kind needs install again; uninstall removes it", async () => {
    const dry = await install(["--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("+ create Namespace inst-app");
    expect(await exists("/api/v1/namespaces/inst-app")).toBe(false);

    const first = await install();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("+ create CronJob cicd/ci-runner-inst");
    const ns = await world.get<Obj>("/api/v1/namespaces/inst-app");
    expect(ns?.metadata.annotations?.["ci-runner.dev/created-by-install"]).toBe("true");
    const again = await install();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("No changes");
    const sharing = await install([], { RELEASE: "inst2" });
    expect(sharing.code).toBe(2);
    expect(errorOf(sharing)?.msg).toContain("DEPLOY_NS=inst-app already holds release inst's deploy identity: one release per deploy namespace");

    // The installed runner, with nothing but its own ServiceAccount's rights, builds and deploys.
    const runner = await world.serviceAccountKubeconfig("cicd", "ci-runner-inst");
    const sync = () => world.run(["sync", "--once"], env({ KUBECONFIG: runner }));
    const deployed = await sync();
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.logs.some((l) => l.msg === "Deployed release and recorded it")).toBe(true);

    // The chart gains an Ingress: the deploy identity may not create one, said before helm applies.
    app.commit({ "chart/templates/ingress.yaml": ingressTemplate(80) });
    const refused = await sync();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("cannot create ingresses.networking.k8s.io in namespace inst-app");
    expect(refused.stderr).toContain("run the same `ci-runner install` again");
    const grant = await install();
    expect(grant.code, grant.stderr).toBe(0);
    expect(grant.stdout).toMatch(/~ update Role inst-app\/ci-runner-deploy[\s\S]*\+ +- networking\.k8s\.io/);
    const next = await sync();
    expect(next.code, next.stderr).toBe(0);
    expect(await exists("/apis/networking.k8s.io/v1/namespaces/inst-app/ingresses/inst")).toBe(true);

    const gone = await world.run(["uninstall", "--delete-release"], env());
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain("Kept the shared admission policies");
    for (const path of ["/apis/batch/v1/namespaces/cicd/cronjobs/ci-runner-inst", "/api/v1/namespaces/cicd/serviceaccounts/ci-runner-inst", "/apis/rbac.authorization.k8s.io/v1/namespaces/cicd/roles/ci-runner-inst", "/api/v1/namespaces/cicd/configmaps/ci-runner-inst"]) {
      expect(await exists(path), path).toBe(false);
    }
    const leaving = await world.get<Obj & { status?: { phase?: string } }>("/api/v1/namespaces/inst-app");
    expect(leaving === undefined || leaving.status?.phase === "Terminating").toBe(true);
    expect(await exists("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/ci-runner-build-jobs")).toBe(true);
  });
});
