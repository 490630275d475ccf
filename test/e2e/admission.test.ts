import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Container, V1Job, V1PodSpec } from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { tokenSecretName } from "../../src/names.ts";
import { kanikoJob } from "../../src/adapters/build/job.ts";
import { loadConfig } from "../../src/config/load.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { api, type ApiResponse } from "./env/control-plane.ts";
import { REPO_ROOT } from "./env/environment.ts";
import { e2eWorld, TOKEN, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

const JOBS = "/apis/batch/v1/namespaces/cicd/jobs";
const PARAMS = "/api/v1/namespaces/cicd/configmaps/ci-runner-build-policy";
const DENIED = "ValidatingAdmissionPolicy 'ci-runner-build-jobs' with binding 'ci-runner-build-jobs' denied request";
const VOLUMES = "a build pod mounts only the registry Secret (registrySecrets: regcred in ConfigMap cicd/ci-runner-build-policy) and emptyDir volumes";
const ENV = "a build pod reads only the git token Secret (gitTokenSecrets: git-token in ConfigMap cicd/ci-runner-build-policy) or the one named after its build Job (<Job name>-git-token)";
// The e2e overlay's params: the Kaniko images the tests run as the ServiceAccount.
const IMAGES = "a build pod runs only the Kaniko image set in ConfigMap cicd/ci-runner-build-policy (kanikoImages: e2e.local/kaniko:ok, e2e.local/kaniko:slow)";

interface Status { reason?: string; message?: string }
interface ConfigMap { metadata: { annotations?: Record<string, string> } }

/**
 * The build Job exactly as ci-runner makes it (the real builder), with the registry Secret and the
 * token Secret: the configured one, or with a GitHub App the Secret named after the Job.
 */
function ownJob(name?: string, tokenSecret = "git-token"): V1Job {
  const config = loadConfig({
    REPO: "acme/forged", IMAGE: "127.0.0.1:5000/acme/forged", CHART_PATH: "chart", RELEASE: "app", KANIKO_IMAGE: "e2e.local/kaniko:ok",
    REGISTRY_SECRET: "regcred", GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: tokenSecret,
  }, {});
  const job = kanikoJob(config, "f".repeat(40), 1);
  if (name) job.metadata = { ...job.metadata, name };
  return job;
}

/** ci-runner's Job with one change made to its pod: what a stolen runner token could ask for. */
function forged(name: string, change: (pod: V1PodSpec, kaniko: V1Container) => void): V1Job {
  const job = ownJob(name);
  const pod = job.spec?.template.spec;
  if (!pod?.containers[0]) throw new Error("the builder made no pod");
  change(pod, pod.containers[0]);
  return job;
}

function mount(pod: V1PodSpec, kaniko: V1Container, volume: NonNullable<V1PodSpec["volumes"]>[number]): void {
  pod.volumes = [...(pod.volumes ?? []), volume];
  kaniko.volumeMounts = [...(kaniko.volumeMounts ?? []), { name: volume.name, mountPath: `/mnt/${volume.name}` }];
}

const LOOT = "ci-runner-loot";
/** Each forged Job and the exact reason the policy gives; (b) other Secrets, (c) other images, (d) the host, privilege and tokens. */
const REFUSALS: { what: string; job: V1Job; why: string }[] = [
  { what: "mounts another Secret", why: `volume loot (Secret ${LOOT}) refused: ${VOLUMES}`,
    job: forged("forged-secret-volume", (pod, c) => mount(pod, c, { name: "loot", secret: { secretName: LOOT } })) },
  { what: "projects another Secret", why: `volume loot (projected) refused: ${VOLUMES}`,
    job: forged("forged-projected", (pod, c) => mount(pod, c, { name: "loot", projected: { sources: [{ secret: { name: LOOT } }] } })) },
  { what: "mounts a ConfigMap", why: `volume state (ConfigMap ci-runner-app) refused: ${VOLUMES}`,
    job: forged("forged-configmap", (pod, c) => mount(pod, c, { name: "state", configMap: { name: "ci-runner-app" } })) },
  { what: "reads another Secret by secretKeyRef", why: `environment variable kaniko LOOT (Secret ${LOOT}) refused: ${ENV}`,
    job: forged("forged-secret-env", (_, c) => { c.env = [...(c.env ?? []), { name: "LOOT", valueFrom: { secretKeyRef: { name: LOOT, key: "token" } } }]; }) },
  { what: "reads another build's token Secret", why: `environment variable kaniko GIT_PASSWORD (Secret build-shop-0123456789ab-1-git-token) refused: ${ENV}`,
    job: ownJob("build-app-ffffffffffff-2", "build-shop-0123456789ab-1-git-token") },
  { what: "is named for a token Secret but is no build Job", why: `environment variable kaniko GIT_PASSWORD (Secret shop-git-token) refused: ${ENV}`,
    job: ownJob("shop", "shop-git-token") },
  { what: "imports a Secret with envFrom", why: "envFrom refused on container kaniko: a build pod reads the git token Secret by secretKeyRef only",
    job: forged("forged-env-from", (_, c) => { c.envFrom = [{ secretRef: { name: LOOT } }]; }) },
  { what: "runs another image", why: `container kaniko runs busybox:1.37; ${IMAGES}`,
    job: forged("forged-image", (_, c) => { c.image = "busybox:1.37"; }) },
  { what: "adds a container beside Kaniko", why: "a build pod runs one container, kaniko, and no init or ephemeral containers; this one has containers [kaniko, shell]",
    job: forged("forged-sidecar", (pod) => { pod.containers.push({ name: "shell", image: "e2e.local/kaniko:ok" }); }) },
  { what: "adds an init container", why: "a build pod runs one container, kaniko, and no init or ephemeral containers; this one has containers [kaniko], initContainers [shell]",
    job: forged("forged-init", (pod) => { pod.initContainers = [{ name: "shell", image: "e2e.local/kaniko:ok" }]; }) },
  { what: "mounts a host path", why: "a build pod uses nothing of the host; this one asks for hostPath volume host (/)",
    job: forged("forged-host-path", (pod, c) => mount(pod, c, { name: "host", hostPath: { path: "/" } })) },
  { what: "joins the host's namespaces", why: "a build pod uses nothing of the host; this one asks for hostNetwork, hostPID",
    job: forged("forged-host-ns", (pod) => { pod.hostNetwork = true; pod.hostPID = true; }) },
  { what: "adds capabilities", why: "a build pod is never privileged and adds no capabilities; container kaniko adds capabilities SYS_ADMIN",
    job: forged("forged-capabilities", (_, c) => { c.securityContext = { ...c.securityContext, capabilities: { add: ["SYS_ADMIN"] } }; }) },
  { what: "mounts a ServiceAccount token", why: "a build pod gets no ServiceAccount token: set automountServiceAccountToken: false",
    job: forged("forged-token", (pod) => { pod.automountServiceAccountToken = true; }) },
  { what: "runs as the runner's ServiceAccount", why: "a build pod runs as the ServiceAccount default; this one names ci-runner-app",
    job: forged("forged-service-account", (pod) => { pod.serviceAccountName = "ci-runner-app"; }) },
  { what: "turns the executor into a shell", why: "a build pod runs the Kaniko executor with ci-runner's flags only (a git:// context, no command); refused: command sh -c cat /kaniko/.docker/config.json",
    job: forged("forged-command", (_, c) => { c.command = ["sh", "-c", "cat /kaniko/.docker/config.json"]; }) },
  { what: "passes the executor a flag ci-runner never does", why: "a build pod runs the Kaniko executor with ci-runner's flags only (a git:// context, no command); refused: --registry-mirror=evil.example",
    job: forged("forged-flag", (_, c) => { c.args = [...(c.args ?? []), "--registry-mirror=evil.example"]; }) },
  { what: "chooses its node", why: "a build pod chooses no node (nodeName, nodeSelector, tolerations, affinity), runtime class or priority class: the scheduler places it like any pod",
    job: forged("forged-node", (pod) => { pod.nodeName = "localhost"; pod.tolerations = [{ operator: "Exists" }]; }) },
  { what: "is labelled for another runner's release (which that runner would adopt)",
    why: "a runner creates build Jobs for its own release only: system:serviceaccount:cicd:ci-runner-app builds for release app, and this Job is labelled ci-runner.dev/target: shop",
    job: ((job) => ({ ...job, metadata: { ...job.metadata, name: "build-shop-ffffffffffff-1", labels: { ...job.metadata?.labels, "ci-runner.dev/target": "shop" } } }))(ownJob()) },
];

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("the build policy: what the runner's token may create in cicd", () => {
  let world: World;
  let runner: { server: string; token: string; kubeconfig: string };
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    const kubeconfig = await world.serviceAccountKubeconfig("cicd", "ci-runner-app");
    const { clusters, users } = parse(readFileSync(kubeconfig, "utf8")) as { clusters: { cluster: { server: string } }[]; users: { user: { token: string } }[] };
    runner = { server: clusters[0]?.cluster.server ?? "", token: users[0]?.user.token ?? "", kubeconfig };
  });
  afterAll(async () => world?.close());

  const create = (job: V1Job, as: "runner" | "admin", query = ""): Promise<ApiResponse> => {
    const [server, token] = as === "runner" ? [runner.server, runner.token] : [world.info.server, world.info.adminToken];
    return api(server, token, world.info.caCert, `${JOBS}${query}`, { method: "POST", body: JSON.stringify(job) });
  };
  const admin = (path: string, init: Parameters<typeof api>[4] = {}) => api(world.info.server, world.info.adminToken, world.info.caCert, path, init);
  const kubectl = (args: string[], input?: string) => execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, ...args], { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  const refusal = (response: ApiResponse) => ({ ...(response.json() as Status), http: response.status });

  it("(a) ci-runner's own build Jobs are admitted: with the token Secret, without one, and with a GitHub App's Secret of the Job's own", async () => {
    const withToken = await create(ownJob(), "runner", "?dryRun=All");
    expect(withToken.status, withToken.text).toBe(201);
    const config = loadConfig({ REPO: "acme/forged", IMAGE: "127.0.0.1:5000/acme/forged", CHART_PATH: "chart", RELEASE: "app", KANIKO_IMAGE: "e2e.local/kaniko:slow", GIT_URL: "http://127.0.0.1:1/acme/forged.git" }, {});
    const publicRepo = await create(kanikoJob(config, "f".repeat(40), 1), "runner", "?dryRun=All");
    expect(publicRepo.status, publicRepo.text).toBe(201);
    const name = ownJob().metadata?.name ?? "";
    const githubApp = await create(ownJob(name, tokenSecretName(name)), "runner", "?dryRun=All");
    expect(githubApp.status, githubApp.text).toBe(201);
  });

  it("(a) a sync as the ServiceAccount, private repository and token Secret, still builds and deploys", async () => {
    await world.ensureTokenSecret(TOKEN);
    await admin("/api/v1/namespaces/cicd/configmaps/ci-runner-app", { method: "DELETE" });
    const app = world.app("app", { private: true });
    const sha = app.commit();
    const from = world.proxy.requests.length;
    const run = await world.run(["sync", "--once"], app.env("helm4", { KUBECONFIG: runner.kubeconfig, DEPLOY_NS: "app", RELEASE: "app", GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token" }));
    expect(run.code, run.stderr).toBe(0);
    const annotations = (await world.get<ConfigMap>("/api/v1/namespaces/cicd/configmaps/ci-runner-app"))?.metadata.annotations ?? {};
    expect(annotations["ci-runner.dev/deployed-sha"]).toBe(sha);
    // The admitted Job is the one that references the token Secret.
    const created = world.proxy.requests.slice(from).filter((r) => r.method === "POST" && r.path.startsWith(JOBS));
    expect(created.map((r) => r.status)).toEqual([201]);
    const env = (JSON.parse(created[0]?.body ?? "{}") as V1Job).spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.map((e) => e.valueFrom?.secretKeyRef?.name).filter(Boolean)).toEqual(["git-token"]);
  });

  describe("(b)-(d) a Job forged with the runner's token is refused, naming what was refused", () => {
    it.each(REFUSALS)("one that $what", async ({ job, why }) => {
      const response = await create(job, "runner");
      expect(refusal(response)).toMatchObject({ http: 403, reason: "Forbidden", message: `jobs.batch "${job.metadata?.name}" is forbidden: ${DENIED}: ${why}` });
    });

    it("one that runs privileged (refused before admission by this API server; the policy covers clusters that allow privileged pods)", async () => {
      const job = forged("forged-privileged", (_, c) => { c.securityContext = { ...c.securityContext, privileged: true }; });
      const response = await create(job, "runner");
      expect(refusal(response)).toMatchObject({ http: 422, message: `Job.batch "forged-privileged" is invalid: spec.template.spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy` });
    });

    it("any of them once its params ConfigMap is gone: the policy fails closed", async () => {
      expect((await admin(PARAMS, { method: "DELETE" })).ok).toBe(true);
      try {
        const response = await eventually(() => create(ownJob("own-without-params"), "runner", "?dryRun=All"), (r) => r.status !== 201);
        expect(refusal(response).message).toBe(`jobs.batch "own-without-params" is forbidden: ${DENIED}: failed to configure binding: no params found for policy binding with \`Deny\` parameterNotFoundAction`);
      } finally {
        restoreParams();
      }
      const admitted = await eventually(() => create(ownJob(), "runner", "?dryRun=All"), (r) => r.status === 201);
      expect(admitted.status, admitted.text).toBe(201);
      // Restored as kubectl's: the base still applies server-side without a conflict.
      expect(kubectl(["apply", "--server-side", "--dry-run=server", "-k", join(REPO_ROOT, "manifests")])).toMatch(/configmap\/ci-runner-build-policy serverside-applied/);
    });
  });

  it("(e) an admin is unaffected: a Job with all of that at once is created", async () => {
    const job = forged("admin-made", (pod, c) => {
      mount(pod, c, { name: "loot", secret: { secretName: LOOT } });
      mount(pod, c, { name: "host", hostPath: { path: "/" } });
      c.image = "busybox:1.37";
      c.envFrom = [{ secretRef: { name: LOOT } }];
      c.securityContext = { ...c.securityContext, capabilities: { add: ["SYS_ADMIN"] } };
      pod.automountServiceAccountToken = true;
      pod.serviceAccountName = "ci-runner-app";
      pod.hostNetwork = true;
    });
    const created = await create(job, "admin");
    try {
      expect(created.status, created.text).toBe(201);
    } finally {
      await admin(`${JOBS}/admin-made?propagationPolicy=Background`, { method: "DELETE" });
    }
  });

  describe("Secrets: create and patch (for a GitHub App's per-Job token) cannot read or mint another", () => {
    const SECRETS = "/api/v1/namespaces/cicd/secrets";
    const LOOT_VALUE = Buffer.from("loot-value-never-seen").toString("base64");
    const SECRETS_DENIED = "ValidatingAdmissionPolicy 'ci-runner-build-secrets' with binding 'ci-runner-build-secrets' denied request";
    const ONLY_OURS = "the runner may create or change only the token Secrets of its own build Jobs (<build Job>-git-token, labelled app.kubernetes.io/managed-by: ci-runner and ci-runner.dev/target: app)";
    const asRunner = (path: string, init: Parameters<typeof api>[4]) => api(runner.server, runner.token, world.info.caCert, path, init);
    const merge = (body: unknown) => ({ method: "PATCH", body: JSON.stringify(body), contentType: "application/merge-patch+json" });
    const ownTokenSecret = (name: string) => ({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name, labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "app" } }, stringData: { token: "t" } });
    beforeAll(async () => {
      const created = await admin(SECRETS, { method: "POST", body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: LOOT }, data: { token: LOOT_VALUE } }) });
      expect([201, 409]).toContain(created.status);
    });
    afterAll(async () => {
      await admin(`${SECRETS}/${LOOT}`, { method: "DELETE" });
    });

    it("a no-op patch of another Secret is refused, and the answer carries none of it", async () => {
      const response = await asRunner(`${SECRETS}/${LOOT}`, merge({}));
      expect(refusal(response)).toMatchObject({ http: 403, reason: "Forbidden", message: `secrets "${LOOT}" is forbidden: ${SECRETS_DENIED}: Secret ${LOOT} refused: ${ONLY_OURS}` });
      expect(response.text).not.toContain(LOOT_VALUE);
    });

    it("a ServiceAccount token Secret is refused: the token controller would fill it in", async () => {
      const body = { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/service-account-token", metadata: { name: "build-app-ffffffffffff-1-git-token", labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "app" }, annotations: { "kubernetes.io/service-account.name": "ci-runner-app" } } };
      const response = await asRunner(SECRETS, { method: "POST", body: JSON.stringify(body) });
      expect(refusal(response)).toMatchObject({ http: 403, message: `secrets "build-app-ffffffffffff-1-git-token" is forbidden: ${SECRETS_DENIED}: Secret build-app-ffffffffffff-1-git-token refused: a build token Secret is Opaque and labelled app.kubernetes.io/managed-by: ci-runner; this one is kubernetes.io/service-account-token` });
    });

    it("a Secret named otherwise is refused; a build Job's token Secret is created and patched", async () => {
      const other = await asRunner(SECRETS, { method: "POST", body: JSON.stringify(ownTokenSecret("loot-copy")) });
      expect(refusal(other)).toMatchObject({ http: 403, message: `secrets "loot-copy" is forbidden: ${SECRETS_DENIED}: Secret loot-copy refused: ${ONLY_OURS}` });
      // Another runner's build token Secret: a patch would answer with its token.
      const shops = { ...ownTokenSecret("build-shop-ffffffffffff-1-git-token"), metadata: { name: "build-shop-ffffffffffff-1-git-token", labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop" } } };
      const foreign = await asRunner(SECRETS, { method: "POST", body: JSON.stringify(shops) });
      expect(refusal(foreign)).toMatchObject({ http: 403, message: `secrets "build-shop-ffffffffffff-1-git-token" is forbidden: ${SECRETS_DENIED}: Secret build-shop-ffffffffffff-1-git-token refused: ${ONLY_OURS}` });
      const name = tokenSecretName(ownJob().metadata?.name ?? "");
      const created = await asRunner(SECRETS, { method: "POST", body: JSON.stringify(ownTokenSecret(name)) });
      try {
        expect(created.status, created.text).toBe(201);
        const patched = await asRunner(`${SECRETS}/${name}`, merge({ stringData: { token: "refreshed" } }));
        expect(patched.status, patched.text).toBe(200);
        // Relabelled by an admin, it is no longer the runner's to patch.
        expect((await admin(`${SECRETS}/${name}`, merge({ metadata: { labels: { "app.kubernetes.io/managed-by": "someone-else" } } }))).status).toBe(200);
        const taken = await asRunner(`${SECRETS}/${name}`, merge({ metadata: { labels: { "app.kubernetes.io/managed-by": "ci-runner" } } }));
        expect(refusal(taken)).toMatchObject({ http: 403, message: `secrets "${name}" is forbidden: ${SECRETS_DENIED}: Secret ${name} refused: ${ONLY_OURS}` });
      } finally {
        await admin(`${SECRETS}/${name}`, { method: "DELETE" });
      }
    });
  });

  /**
   * The params as the environment applied them: server-side, by kubectl from the overlay, so the
   * field manager stays kubectl's and a later `kubectl apply --server-side` of the base (as
   * install.test.ts does) meets no conflict.
   */
  function restoreParams(): void {
    const params = parseAllDocuments(kubectl(["kustomize", join(REPO_ROOT, "test", "e2e", "overlay")])).find((d) => d.get("kind") === "ConfigMap" && d.getIn(["metadata", "name"]) === "ci-runner-build-policy");
    if (!params) throw new Error("the overlay has no ci-runner-build-policy ConfigMap");
    kubectl(["apply", "--server-side", "-f", "-"], params.toString());
  }

  /** The policy is compiled when the API server sees its params change: poll a few seconds. */
  async function eventually(attempt: () => Promise<ApiResponse>, done: (r: ApiResponse) => boolean): Promise<ApiResponse> {
    let response = await attempt();
    for (let i = 0; i < 50 && !done(response); i++) {
      await new Promise((r) => setTimeout(r, 200));
      response = await attempt();
    }
    return response;
  }
});

describe.skipIf(skip !== undefined)("the deploy and state policies: what helm's identity and the runners may never write", () => {
  let world: World;
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
  });
  afterAll(async () => world?.close());

  const asDeployIdentity = (service: object) => api(world.info.server, world.info.adminToken, world.info.caCert, "/api/v1/namespaces/app/services?dryRun=All", {
    method: "POST", body: JSON.stringify(service), impersonate: "system:serviceaccount:app:ci-runner-deploy",
  });

  it("the state policy: a runner may not approve, nor write the build policy's params", async () => {
    const kubeconfig = await world.serviceAccountKubeconfig("cicd", "ci-runner-app");
    const { clusters, users } = parse(readFileSync(kubeconfig, "utf8")) as { clusters: { cluster: { server: string } }[]; users: { user: { token: string } }[] };
    const asRunner = (path: string, init: Parameters<typeof api>[4]) => api(clusters[0]?.cluster.server ?? "", users[0]?.user.token ?? "", world.info.caCert, path, init);
    const state = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ci-runner-app", labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "app" }, annotations: { "ci-runner.dev/approved-sha": "a".repeat(40), "ci-runner.dev/approved-by": "system:serviceaccount:cicd:ci-runner-app" } } };
    const approving = await asRunner("/api/v1/namespaces/cicd/configmaps?dryRun=All", { method: "POST", body: JSON.stringify(state) });
    expect(approving.status, approving.text).toBe(403);
    expect((approving.json() as { message: string }).message).toMatch(/ValidatingAdmissionPolicy 'ci-runner-state'.*a runner may not approve/);
    const { annotations: _approval, ...plain } = state.metadata;
    const unapproved = await asRunner("/api/v1/namespaces/cicd/configmaps?dryRun=All", { method: "POST", body: JSON.stringify({ ...state, metadata: plain }) });
    expect([201, 409], unapproved.text).toContain(unapproved.status); // its state, unapproved: admitted (or already there)
    const params = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ci-runner-build-policy" }, data: { kanikoImages: "evil.example/anything:latest" } };
    const forging = await asRunner("/api/v1/namespaces/cicd/configmaps?dryRun=All", { method: "POST", body: JSON.stringify(params) });
    // Validating admission answers before storage would say AlreadyExists.
    expect(forging.status, forging.text).toBe(403);
    expect((forging.json() as { message: string }).message).toMatch(/a runner may not write the build policy's params/);
  });

  it("a Service with externalIPs is refused, naming CVE-2020-8554; an ordinary one is admitted", async () => {
    const service = (extra: object) => ({ apiVersion: "v1", kind: "Service", metadata: { name: "grab" }, spec: { ports: [{ port: 80 }], ...extra } });
    const ordinary = await asDeployIdentity(service({}));
    expect(ordinary.status, ordinary.text).toBe(201);
    const grab = await asDeployIdentity(service({ externalIPs: ["10.96.0.1"] }));
    expect(grab.status, grab.text).toBe(403);
    expect((grab.json() as { message: string }).message).toMatch(/ValidatingAdmissionPolicy 'ci-runner-deploy-services'.*Service grab refused: externalIPs \(10\.96\.0\.1\) would capture traffic to those addresses across the cluster \(CVE-2020-8554\)/);
  });
});

describe("the build policy's params are in step with the CronJobs it guards", () => {
  const docs = (...path: string[]) => parseAllDocuments(readFileSync(join(REPO_ROOT, "manifests", ...path), "utf8")).map((d) => d.toJSON());
  const params = docs("base", "build-policy.yaml").find((o) => o.kind === "ConfigMap").data as Record<string, string>;
  const list = (key: string) => params[key]?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
  const fallback = (env: string) => SETTINGS.find((s) => s.env === env)?.fallback;
  const cronJobs = [...docs("base", "cronjob.yaml"), ...docs("examples", "second-repository", "shop.yaml")].filter((o) => o.kind === "CronJob");

  it.each(cronJobs.map((c) => [c.metadata.name, c]))("%s: its Kaniko image and Secrets are the ones the policy admits", (_, cronJob) => {
    const env = new Map<string, string>(cronJob.spec.jobTemplate.spec.template.spec.containers[0].env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
    const used = (name: string) => env.get(name) ?? fallback(name);
    // When ci-runner's default Kaniko image changes, manifests/base/build-policy.yaml changes with it.
    expect(list("kanikoImages"), "KANIKO_IMAGE (or ci-runner's default)").toContain(used("KANIKO_IMAGE"));
    for (const [setting, key] of [["REGISTRY_SECRET", "registrySecrets"], ["GIT_TOKEN_SECRET", "gitTokenSecrets"]] as const) {
      const name = used(setting);
      if (name !== undefined) expect(list(key), setting).toContain(name);
    }
  });
});
