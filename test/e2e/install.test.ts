import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, stringify as toYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kanikoJob } from "../../src/adapters/build/job.ts";
import { loadConfig } from "../../src/config/load.ts";
import { api } from "./env/control-plane.ts";
import { REPO_ROOT } from "./env/environment.ts";
import { e2eWorld, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
interface Role { metadata: { name: string; namespace?: string; resourceVersion?: string }; rules: Rule[] }

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("what a platform engineer installs, on the real control plane", () => {
  let world: World;
  let saKubeconfig: string;
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    saKubeconfig = await world.serviceAccountKubeconfig("cicd", "ci-runner-app");
  });
  afterAll(async () => world?.close());

  const kubectl = (...args: string[]) => execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, ...args], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  /** kubectl with a manifest on stdin. */
  const kubectlWith = (object: unknown, ...args: string[]) =>
    execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, ...args, "-f", "-"], { encoding: "utf8", input: toYaml(object), stdio: ["pipe", "pipe", "pipe"] });

  it("the base applies cleanly server-side, and the tested Helm 4 is the one the image pins", () => {
    expect(kubectl("apply", "--server-side", "--dry-run=server", "-k", join(REPO_ROOT, "manifests"))).toMatch(/cronjob.batch\/ci-runner-app serverside-applied/);
    // The example creates its namespace, so it is applied for real; its CronJob is then removed
    // so it never ticks in the test cluster.
    expect(kubectl("apply", "--server-side", "-k", join(REPO_ROOT, "manifests", "examples", "second-repository"))).toMatch(/cronjob.batch\/ci-runner-shop serverside-applied/);
    kubectl("-n", "cicd", "delete", "cronjob", "ci-runner-shop");
    const pinned = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).config.helmVersion;
    expect(execFileSync(world.info.helm4, ["version", "--template", "{{.Version}}"], { encoding: "utf8" })).toBe(`v${pinned}`);
  });

  it("Pod Security admission: the runner's pod meets restricted, the Kaniko pod baseline (and not restricted)", () => {
    kubectl("create", "namespace", "psa-restricted");
    kubectl("label", "namespace", "psa-restricted", "pod-security.kubernetes.io/enforce=restricted");
    kubectl("-n", "psa-restricted", "create", "serviceaccount", "ci-runner-app");
    const cronjob = parseAllDocuments(kubectl("kustomize", join(REPO_ROOT, "manifests"))).map((d) => d.toJSON()).find((o) => o.kind === "CronJob");
    const runnerPod = { apiVersion: "v1", kind: "Pod", metadata: { name: "runner", namespace: "psa-restricted" }, spec: cronjob.spec.jobTemplate.spec.template.spec };
    expect(kubectlWith(runnerPod, "create", "--dry-run=server", "-o", "name")).toBe("pod/runner\n");

    const config = loadConfig({ REPO: "acme/app", IMAGE: "127.0.0.1:5000/acme/app", CHART_PATH: "chart", RELEASE: "app", REGISTRY_SECRET: "regcred", GIT_TOKEN: "x-token-value", GIT_TOKEN_SECRET: "git-token" }, {});
    const job = kanikoJob(config, "0".repeat(40), 1);
    const kanikoPod = (namespace: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "kaniko", namespace }, spec: job.spec?.template.spec });
    expect(kubectlWith(kanikoPod("cicd"), "create", "--dry-run=server", "-o", "name")).toBe("pod/kaniko\n");
    expect(() => kubectlWith(kanikoPod("psa-restricted"), "create", "--dry-run=server")).toThrow(/violates PodSecurity "restricted/);
  });

  it("the hardening example: its quotas admit ci-runner's own pods and refuse a NodePort, its egress policy selects build pods only", () => {
    const docs = parseAllDocuments(kubectl("kustomize", join(REPO_ROOT, "manifests", "examples", "hardening"))).map((d) => d.toJSON());
    // Applied to two namespaces of its own, so the quotas never hold up another test's Jobs.
    const moved: Record<string, string> = { cicd: "quota-cicd", app: "quota-app" };
    for (const ns of Object.values(moved)) kubectl("create", "namespace", ns);
    kubectl("-n", "quota-cicd", "create", "serviceaccount", "ci-runner-app");
    for (let i = 0; i < 50 && !kubectl("-n", "quota-cicd", "get", "serviceaccounts", "-o", "name").includes("serviceaccount/default"); i++) execFileSync("sleep", ["0.2"]);
    for (const doc of docs) kubectlWith({ ...doc, metadata: { ...doc.metadata, namespace: moved[doc.metadata.namespace] } }, "apply", "--server-side");
    const pod = (name: string, namespace: string, spec: unknown) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace }, spec });

    const cronjob = parseAllDocuments(kubectl("kustomize", join(REPO_ROOT, "manifests"))).map((d) => d.toJSON()).find((o) => o.kind === "CronJob");
    const config = loadConfig({ REPO: "acme/app", IMAGE: "127.0.0.1:5000/acme/app", CHART_PATH: "chart", RELEASE: "app", REGISTRY_SECRET: "regcred" }, {});
    const build = kanikoJob(config, "0".repeat(40), 1).spec?.template;
    expect(kubectlWith(pod("runner", "quota-cicd", cronjob.spec.jobTemplate.spec.template.spec), "create", "--dry-run=server", "-o", "name")).toBe("pod/runner\n");
    expect(kubectlWith(pod("kaniko", "quota-cicd", build?.spec), "create", "--dry-run=server", "-o", "name")).toBe("pod/kaniko\n");
    // A chart's pod that sets no resources gets the LimitRange's and is admitted; a NodePort is not.
    const bare = JSON.parse(kubectlWith(pod("bare", "quota-app", { containers: [{ name: "app", image: "busybox:1.37" }] }), "create", "--dry-run=server", "-o", "json"));
    expect(bare.spec.containers[0].resources).toMatchObject({ requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } });
    const nodePort = { apiVersion: "v1", kind: "Service", metadata: { name: "np", namespace: "quota-app" }, spec: { type: "NodePort", ports: [{ port: 80 }] } };
    expect(() => kubectlWith(nodePort, "create", "--dry-run=server")).toThrow(/exceeded quota: ci-runner-app.*services.nodeports=0/);

    // The policy's selector, read the way the API server reads it, against the two pods' labels.
    const policy = docs.find((d) => d.kind === "NetworkPolicy");
    const selects = (labels: Record<string, string>) =>
      Object.entries(policy.spec.podSelector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v)
      && (policy.spec.podSelector.matchExpressions as { key: string; operator: string }[]).every((e) => e.operator === "Exists" && e.key in labels);
    expect(selects(build?.metadata?.labels ?? {})).toBe(true);
    expect(selects(cronjob.spec.jobTemplate.spec.template.metadata.labels)).toBe(false);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    for (const ns of Object.values(moved)) kubectl("delete", "namespace", ns, "--wait=false");
  });

  describe("each rule is necessary: without it, a step fails naming the permission", () => {
    const roles = ["cicd/ci-runner-build", "app/ci-runner-deploy", "app/ci-runner-app"];
    const cases: { role: string; index: number; rule: Rule }[] = [];
    beforeAll(async () => {
      for (const ref of roles) {
        const role = await readRole(ref);
        role.rules.forEach((rule, index) => cases.push({ role: ref, index, rule }));
      }
    });

    it("covers every rule of the base", async () => {
      expect(cases.length).toBeGreaterThanOrEqual(12);
      const results: string[] = [];
      for (const c of cases) {
        const original = await readRole(c.role);
        await writeRole(c.role, { ...original, rules: original.rules.filter((_, i) => i !== c.index) });
        try {
          // Helm 3 and 4 need different things (Helm 3's wait reads ReplicaSets, Helm 4's watcher
          // watches what it deploys): a rule is necessary when either fails without it, naming it.
          const outcomes = [];
          let named = false;
          for (const helm of ["helm4", "helm3"] as const) {
            const outcome = await freshDeployAsServiceAccount(c.rule, helm, c.role);
            outcomes.push(`${helm} ${outcome.text}`);
            named = outcome.named;
            if (outcome.text !== "NOT NEEDED") break;
          }
          const line = `${c.role} rule ${c.index} (${c.rule.resources.join(",")} ${c.rule.verbs.join(",")}): ${outcomes.join(" || ")}`;
          results.push(named ? line : `UNPROVEN ${line}`);
        } finally {
          const current = await readRole(c.role);
          await writeRole(c.role, { ...current, rules: original.rules });
        }
      }
      console.log(`rule necessity:\n${results.join("\n")}`);
      expect(results.filter((r) => r.startsWith("UNPROVEN"))).toEqual([]);
    }, 900_000);
  });

  /** From nothing: no state, no release; a new commit deployed by the ServiceAccount. */
  async function freshDeployAsServiceAccount(removed: Rule, helm: "helm3" | "helm4", role: string): Promise<{ named: boolean; text: string }> {
    await api(world.info.server, world.info.adminToken, world.info.caCert, "/api/v1/namespaces/cicd/configmaps/ci-runner-app", { method: "DELETE" });
    try {
      world.helm("helm4", "uninstall", "app", "-n", "app", "--wait");
    } catch {
      // not installed yet
    }
    const app = appRepo();
    // The rollback evidence's reads (deploy namespace) are used only when a deploy fails: those
    // rules are tried with a chart whose pods never become ready.
    const evidence = role.startsWith("app/") && removed.resources.some((r) => r === "events" || r === "pods/log");
    app.commit({ "app.txt": `tick ${++ticks}\n`, "chart/values.yaml": `image:\n  repository: x\n  tag: latest\nneverReady: ${evidence}\n` });
    const slow = removed.resources.includes("pods/log") && !evidence;
    const run = await world.run(["sync", "--once"], app.env(helm, {
      HELM_TIMEOUT: "15s", KUBECONFIG: saKubeconfig, DEPLOY_NS: "app", RELEASE: "app", KUBE_EVENTS: "true", ...(slow ? { KANIKO_IMAGE: "e2e.local/kaniko:slow" } : {}),
      // As a GitHub App: its token reaches the build pod in a Secret per build Job.
      GITHUB_APP_ID: String(world.git.app.id), GITHUB_APP_PRIVATE_KEY: world.git.app.privateKey,
    }));
    const problems = run.logs.filter((l) => l.level === "error" || l.level === "warn").map((l) => `${String(l.msg)} ${String(l.error ?? "")}`);
    // Named: the runner's refusal (forbidden), or the deploy identity's missing right asked of the API server (cannot).
    const named = problems.find((m) => /forbidden|cannot/.test(m) && removed.resources.some((r) => m.includes(`"${r.split("/")[0]}"`) || m.includes(r)));
    const at = named === undefined ? 0 : Math.max(0, named.search(/ cannot |forbidden/i));
    if (named) return { named: true, text: `${run.code === 0 ? "warned" : `exit ${run.code}`}: ${named.slice(at, at + 160)}` };
    return { named: false, text: run.code === 0 ? "NOT NEEDED" : `failed without naming it: ${problems.join(" | ").slice(0, 300)}` };
  }

  let repo: ReturnType<World["app"]> | undefined;
  let ticks = 0;
  function appRepo() {
    repo ??= world.app("app");
    return repo;
  }

  async function readRole(ref: string): Promise<Role> {
    const [ns, name] = ref.split("/");
    const path = ns ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/${name}` : `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`;
    const role = await world.get<Role>(path);
    if (!role) throw new Error(`no ${ref}`);
    return role;
  }

  async function writeRole(ref: string, role: Role): Promise<void> {
    const [ns, name] = ref.split("/");
    const path = ns ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/${name}` : `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`;
    const response = await api(world.info.server, world.info.adminToken, world.info.caCert, path, { method: "PUT", body: JSON.stringify(role) });
    if (!response.ok) throw new Error(`PUT ${path}: HTTP ${response.status} ${response.text}`);
  }

});
