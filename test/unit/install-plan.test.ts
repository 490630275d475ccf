import { describe, expect, it } from "vitest";
import { extraEnvironment, isSchedule } from "../../src/commands/install.ts";
import { loadConfig } from "../../src/config/load.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { lineDiff } from "../../src/install/diff.ts";
import { runnerEnvironment } from "../../src/install/environment.ts";
import { chartKinds } from "../../src/install/kinds.ts";
import { CREATED, desiredObjects, type InstallObservation } from "../../src/install/plan.ts";
import { grants, rulesFor } from "../../src/install/rbac.ts";
import { EXAMPLE_CHART, requiredPermissions } from "../../src/permissions.ts";

const ENV = { REPO: "acme/shop", IMAGE: "ghcr.io/acme/shop", CHART_PATH: "chart", RELEASE: "shop", DEPLOY_NS: "shop", REGISTRY_SECRET: "regcred" };
const config = loadConfig(ENV, {});
const setting = (env: string) => {
  const found = SETTINGS.find((s) => s.env === env);
  if (!found) throw new Error(env);
  return found;
};
const observation = (over: Partial<InstallObservation> = {}): InstallObservation => ({
  chart: EXAMPLE_CHART, params: { kanikoImages: [], registrySecrets: [], gitTokenSecrets: [] }, namespaces: new Map(), ...over,
});
const settings = { config, env: [], secretEnv: [], runnerImage: "ghcr.io/acme/ci-runner:1", schedule: "*/2 * * * *" };

describe("rulesFor and grants", () => {
  it("one rule per resource and name, verbs in kubectl's order; grants reads them back one line each", () => {
    const rules = rulesFor([
      { verb: "patch", group: "", resource: "configmaps", name: "state", namespace: "cicd", why: "", grantedBy: "" },
      { verb: "get", group: "", resource: "configmaps", name: "state", namespace: "cicd", why: "", grantedBy: "" },
      { verb: "create", group: "batch", resource: "jobs", namespace: "cicd", why: "", grantedBy: "" },
      { verb: "get", group: "", resource: "pods", subresource: "log", namespace: "cicd", why: "", grantedBy: "" },
    ] as Parameters<typeof rulesFor>[0]);
    expect(rules).toEqual([
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "patch"], resourceNames: ["state"] },
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    ]);
    expect(grants(rules)).toEqual(['get configmaps "state"', "create jobs.batch", "get pods/log", 'patch configmaps "state"'].sort());
  });

  it("the runner's rules grant every permission it needs, and nothing else", () => {
    const needs = requiredPermissions(config);
    const lines = needs.map((p) => `${p.verb} ${p.subresource ? `${p.resource}/${p.subresource}` : p.resource}${p.group ? `.${p.group}` : ""}${p.name ? ` "${p.name}"` : ""}`);
    expect(grants(rulesFor(needs))).toEqual([...new Set(lines)].sort());
  });
});

describe("chartKinds", () => {
  const served = new Map([
    ["apps/v1 Deployment", { resource: "deployments", namespaced: true }],
    ["v1 Service", { resource: "services", namespaced: true }],
    ["rbac.authorization.k8s.io/v1 ClusterRole", { resource: "clusterroles", namespaced: false }],
  ]);
  const obj = (apiVersion: string, kind: string, namespace?: string) => ({ apiVersion, kind, metadata: { name: "x", ...(namespace ? { namespace } : {}) } });
  it.each([
    ["a served namespaced kind", [obj("apps/v1", "Deployment"), obj("v1", "Service", "shop")], [{ group: "apps", resource: "deployments", kind: "Deployment" }, { group: "", resource: "services", kind: "Service" }], []],
    ["an unserved kind: install the CRD", [obj("monitoring.coreos.com/v1", "ServiceMonitor")], [], ["ServiceMonitor x: this cluster serves no ServiceMonitor in monitoring.coreos.com/v1; install the CRD that defines it first, or fix the apiVersion"]],
    ["a cluster-scoped kind is never granted", [obj("rbac.authorization.k8s.io/v1", "ClusterRole")], [], ["ClusterRole x is cluster-scoped; a chart may create objects in DEPLOY_NS (shop) only: create it once as an admin, outside the chart"]],
    ["another namespace is never granted", [obj("apps/v1", "Deployment", "kube-system")], [], ["Deployment x is in namespace kube-system; a chart may create objects in DEPLOY_NS (shop) only: remove its namespace, or deploy it from a release of its own"]],
    ["no kind", [{ metadata: { name: "x" } }], [], ["an object x has no apiVersion or kind: fix the template that renders it"]],
  ])("%s", (_name, objects, resources, problems) => {
    expect(chartKinds(objects, served, "shop")).toEqual({ resources, problems });
  });
});

describe("desiredObjects", () => {
  it("is the same for the same settings, and in apply order: namespaces, identities, rights, params, policies, CronJob", () => {
    const objects = desiredObjects(settings, observation());
    expect(desiredObjects(settings, observation())).toEqual(objects);
    const kinds = objects.map((o) => o.kind);
    expect(kinds.slice(0, 2)).toEqual(["Namespace", "Namespace"]);
    expect(kinds.at(-1)).toBe("CronJob");
    expect(kinds.indexOf("ConfigMap")).toBeLessThan(kinds.indexOf("ValidatingAdmissionPolicy"));
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toContain("ServiceAccount cicd/ci-runner-shop");
  });

  it("adds its own to the build policy's params, keeping every other runner's", () => {
    const params = desiredObjects(settings, observation({ params: { kanikoImages: ["other/kaniko:1"], registrySecrets: ["regcred", "other"], gitTokenSecrets: ["other-token"] } }))
      .find((o) => o.kind === "ConfigMap");
    expect(params?.data).toEqual({ kanikoImages: `other/kaniko:1,${config.kanikoImage}`, registrySecrets: "regcred,other", gitTokenSecrets: "other-token" });
  });

  it("marks a namespace it creates, and never one that was there before it", () => {
    const created = desiredObjects(settings, observation()).filter((o) => o.kind === "Namespace");
    expect(created.map((o) => o.metadata.annotations?.[CREATED])).toEqual(["true", "true"]);
    // One that was there is not applied at all: its labels (Pod Security among them) stay its owner's.
    const existing = desiredObjects(settings, observation({ namespaces: new Map([["cicd", { createdByInstall: false }], ["shop", { createdByInstall: true }]]) })).filter((o) => o.kind === "Namespace");
    expect(existing.map((o) => [o.metadata.name, o.metadata.annotations?.[CREATED]])).toEqual([["shop", "true"]]);
  });

  it("the CronJob's deadlines, grace period and memory grow with BUILD_TIMEOUT, HELM_TIMEOUT and HELM_MEMORY_LIMIT, never below the base's", () => {
    type Cron = { spec: { jobTemplate: { spec: { activeDeadlineSeconds: number; template: { spec: { terminationGracePeriodSeconds: number; containers: { resources: { limits: { memory: string } } }[] } } } } } };
    const cron = (env: Record<string, string>) => desiredObjects({ ...settings, config: loadConfig({ ...ENV, ...env }, {}) }, observation()).find((o) => o.kind === "CronJob") as unknown as Cron;
    const at = (c: Cron) => [c.spec.jobTemplate.spec.activeDeadlineSeconds, c.spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds, c.spec.jobTemplate.spec.template.spec.containers[0]?.resources.limits.memory];
    expect(at(cron({}))).toEqual([2100, 700, "384Mi"]);
    expect(at(cron({ BUILD_TIMEOUT: "1h", HELM_TIMEOUT: "10m", HELM_MEMORY_LIMIT: "1Gi" }))).toEqual([3600 + 1200 + 300, 1300, "1248Mi"]);
  });

  it("the deploy identity gets no token and the rights of the chart's kinds only", () => {
    const objects = desiredObjects(settings, observation({ chart: [{ group: "apps", resource: "deployments", kind: "Deployment" }] }));
    const account = objects.find((o) => o.kind === "ServiceAccount" && o.metadata.name === "ci-runner-deploy");
    expect(account?.automountServiceAccountToken).toBe(false);
    const role = objects.find((o) => o.kind === "Role" && o.metadata.name === "ci-runner-deploy") as unknown as { rules: Parameters<typeof grants>[0] };
    expect(grants(role.rules).filter((g) => !g.endsWith("secrets"))).toEqual(["create deployments.apps", "delete deployments.apps", "get deployments.apps", "get replicasets.apps", "list deployments.apps", "list replicasets.apps", "patch deployments.apps", "update deployments.apps", "watch deployments.apps", "watch replicasets.apps"]);
  });

  it("with VERIFY=helm-test the deploy identity may also read pod logs (helm test --logs), and only then", () => {
    const podRules = (verify: string | undefined) => {
      const withVerify = { ...settings, config: loadConfig({ ...ENV, ...(verify ? { VERIFY: verify } : {}) }, {}) };
      const objects = desiredObjects(withVerify, observation({ chart: [{ group: "", resource: "pods", kind: "Pod" }] }));
      const role = objects.find((o) => o.kind === "Role" && o.metadata.name === "ci-runner-deploy") as unknown as { rules: Parameters<typeof grants>[0] };
      return grants(role.rules).filter((g) => g.includes("pods"));
    };
    expect(podRules("helm-test")).toContain("get pods/log");
    expect(podRules(undefined)).not.toContain("get pods/log");
  });
});

describe("desiredObjects with --receiver-secret", () => {
  const withReceiver = desiredObjects({ ...settings, receiverSecret: "hook-secret" }, observation());
  const named = (kind: string, name: string) => withReceiver.find((o) => o.kind === kind && o.metadata.name === name) as unknown as Record<string, any>;

  it("adds nothing without it, and after the CronJob with it: identity, rights, Deployment, Service, the policy's binding", () => {
    const without = desiredObjects(settings, observation());
    expect(withReceiver.slice(0, without.length)).toEqual(without);
    expect(withReceiver.slice(without.length).map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toEqual([
      "ServiceAccount cicd/ci-receiver-shop", "Role cicd/ci-receiver-shop", "RoleBinding cicd/ci-receiver-shop",
      "Deployment cicd/ci-receiver-shop", "Service cicd/ci-receiver-shop", "ValidatingAdmissionPolicyBinding /ci-runner-receiver-shop",
    ]);
    // The shared policy comes with every installation; it matches receivers only.
    expect(without.some((o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === "ci-runner-receiver-jobs")).toBe(true);
    for (const o of withReceiver.slice(without.length)) expect(o.metadata.labels?.["ci-runner.dev/installation"]).toBe("shop");
  });

  it("may read its own CronJob and start Jobs, nothing more; the binding pins them to that CronJob", () => {
    expect(grants(named("Role", "ci-receiver-shop").rules)).toEqual(["create jobs.batch", 'get cronjobs.batch "ci-runner-shop"', "list jobs.batch"]);
    expect(named("ValidatingAdmissionPolicyBinding", "ci-runner-receiver-shop").spec).toEqual({
      policyName: "ci-runner-receiver-jobs", validationActions: ["Deny"], paramRef: { name: "ci-runner-shop", namespace: "cicd", parameterNotFoundAction: "Deny" },
    });
  });

  it("runs the runner image as receive, non-root and read-only, with the webhook secret by reference only", () => {
    const pod = named("Deployment", "ci-receiver-shop").spec.template.spec;
    expect(pod.serviceAccountName).toBe("ci-receiver-shop");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const [container] = pod.containers;
    expect(container.image).toBe("ghcr.io/acme/ci-runner:1");
    expect(container.args[0]).toBe("receive");
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.env).toEqual([
      { name: "REPO", value: "acme/shop" }, { name: "BRANCH", value: "main" }, { name: "RELEASE", value: "shop" }, { name: "CICD_NS", value: "cicd" },
      { name: "GITHUB_WEBHOOK_SECRET", valueFrom: { secretKeyRef: { name: "hook-secret", key: "secret" } } },
    ]);
    expect(named("Service", "ci-receiver-shop").spec.selector).toEqual(pod.metadata?.labels ?? named("Deployment", "ci-receiver-shop").spec.template.metadata.labels);
  });
});

describe("runnerEnvironment", () => {
  it("passes the settings given, keeps the laptop's own, and names secrets by reference only", () => {
    const explicit = [{ setting: setting("REPO"), raw: "acme/shop" }, { setting: setting("KUBECONFIG"), raw: "/home/me/.kube/config" }, { setting: setting("GIT_TOKEN"), raw: "ghp_secret" }];
    const withToken = loadConfig({ ...ENV, GIT_TOKEN: "ghp_secret", GIT_TOKEN_SECRET: "git-token" }, {});
    const env = runnerEnvironment(explicit, withToken, {});
    expect(env.env).toEqual([{ name: "REPO", value: "acme/shop" }]);
    expect(env.secretEnv).toEqual([{ name: "GIT_TOKEN", secret: "git-token", key: "token" }]);
    expect(JSON.stringify(env)).not.toContain("ghp_secret");
    expect(env.problems).toEqual([]);
  });

  it("a webhook URL without the Secret to read it from is a problem with the fix", () => {
    const env = runnerEnvironment([{ setting: setting("WEBHOOK_URL"), raw: "https://hooks.example/x" }], config, {});
    expect(env.problems).toEqual([expect.stringContaining("WEBHOOK_URL is set but --webhook-url-secret is not")]);
    expect(runnerEnvironment([{ setting: setting("WEBHOOK_URL"), raw: "https://hooks.example/x" }], config, { webhookUrlSecret: "hook" }).secretEnv)
      .toEqual([{ name: "WEBHOOK_URL", secret: "hook", key: "url" }]);
  });
});

describe("extraEnvironment (--runner-env)", () => {
  it.each([
    [["HTTPS_PROXY=http://proxy:3128", "EMPTY="], [{ name: "HTTPS_PROXY", value: "http://proxy:3128" }, { name: "EMPTY", value: "" }], []],
    [["A=b=c"], [{ name: "A", value: "b=c" }], []],
    [["novalue"], [], ['--runner-env "novalue" is not NAME=VALUE: give e.g. --runner-env HTTPS_PROXY=http://proxy:3128']],
    [["REPO=acme/x"], [], ["--runner-env REPO: REPO is a setting; give it as --repo instead, so that install checks it"]],
    [["GIT_TOKEN=ghp_x"], [], ["--runner-env GIT_TOKEN: GIT_TOKEN is a setting; give it as a Secret (see --help) instead, so that install checks it"]],
  ])("%j", (pairs, env, problems) => {
    expect(extraEnvironment(pairs)).toEqual({ env, problems });
  });
});

describe("lineDiff and isSchedule", () => {
  it("shows changed lines with two lines of context", () => {
    expect(lineDiff(["a", "b", "c", "d", "e", "f", "g"], ["a", "b", "c", "X", "e", "f", "g"])).toEqual(["  b", "  c", "- d", "+ X", "  e", "  f"]);
    expect(lineDiff(["a"], ["a"])).toEqual([]);
  });
  it.each([["*/2 * * * *", true], ["0 3 * * 1-5", true], ["@hourly", true], ["every minute", false], ["* * * *", false], ["* * * * * *", false]])("%s: %s", (text, ok) => {
    expect(isSchedule(text)).toBe(ok);
  });
});
