import { execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "../env/environment.ts";
import { writeAuthFile } from "../env/images.ts";
import { ingressTemplate } from "../support/app.ts";
import { annotations, jobsCreated, pagesServed } from "../support/real-checks.ts";
import { e2eWorld, type World } from "../support/world.ts";
import { buildah, buildProjectImage, ensureBaseImages, hostSideEffects, IMAGE_STORAGE, missingImageTools } from "../../support/project-image.ts";

const real = inject("real");
const noImage = missingImageTools();
const HOOK_SECRET = "real-node-webhook-secret-0123456789";

interface Job { status?: { conditions?: { type: string; status: string }[]; startTime?: string; completionTime?: string } }
interface PodList { items: { metadata: { name: string; uid: string }; spec: { securityContext?: { runAsUser?: number }; containers: { securityContext?: { readOnlyRootFilesystem?: boolean } }[] }; status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { state?: { terminated?: { exitCode: number } } }[] } }[] }

/**
 * What a platform engineer installs, seen working: the image built from the project's own
 * Dockerfile, the kustomize base applied through an overlay that points at it and at the test
 * repository, and ticks started from the CronJob. The runner pod runs as uid 10001 on a read-only
 * root with its ServiceAccount token, builds with the real Kaniko and deploys for real.
 */
describe.skipIf("skip" in real || noImage !== undefined)("ci-runner as its own CronJob on the real node", () => {
  let world: World;
  let app: ReturnType<World["app"]>;
  let image = "";
  let kubectl: (...args: string[]) => string;
  const host = hostSideEffects();
  beforeAll(async () => {
    if (!("info" in real) || !real.info.real) return;
    world = await e2eWorld(real.info);
    const { info } = world;
    kubectl = (...args) => execFileSync(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const storage = { dir: IMAGE_STORAGE };
    const built = await buildProjectImage(storage, ensureBaseImages(storage), "localhost/ci-runner:cronjob-e2e");
    const authFile = join(world.root, "registry-auth.json");
    writeAuthFile(authFile, info.registry.host, info.registry.user, info.registry.password);
    image = `${info.registry.host}/ci-runner:e2e`;
    buildah(storage, ["push", "--quiet", "--tls-verify=false", "--authfile", authFile, built.name, `docker://${image}`]);
    console.log(`runner image built in ${built.seconds.toFixed(0)}s, ${built.size}`);
  }, 900_000);
  afterAll(async () => {
    host.restore();
    await world?.close();
  });

  /** The base, through an overlay naming our image, the test repository and what pods reach here. */
  function applyOverlay(target: ReturnType<World["app"]>): void {
    const { info } = world;
    const r = info.real!;
    const gw = r.gateway;
    const sa = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
    const env: Record<string, string> = {
      REPO: target.repo, BRANCH: "main", IMAGE: target.image, CHART_PATH: "chart", RELEASE: "app", CICD_NS: "cicd", DEPLOY_NS: "app",
      MAX_RETRIES: "3", BUILD_TIMEOUT: "10m", HELM_TIMEOUT: "120s", REGISTRY_SECRET: "regcred", GIT_TOKEN_SECRET: "git-token",
      GITHUB_API_URL: `https://${gw}:${r.gitPort}/api/v3`, GIT_URL: `https://${gw}:${r.gitPort}/${target.repo}.git`,
      KANIKO_IMAGE: r.kanikoImage, REGISTRY_INSECURE: "true", LOG_FORMAT: "json",
      // No kube-proxy on this node: the API server is reached as gateway:port. Its certificate,
      // the git server's and the ServiceAccount's CA are one test CA.
      KUBERNETES_SERVICE_HOST: gw, KUBERNETES_SERVICE_PORT: String(r.apiPort),
      NODE_EXTRA_CA_CERTS: sa, GIT_SSL_CAINFO: sa,
    };
    const dir = join(world.root, "cronjob-overlay");
    mkdirSync(dir, { recursive: true });
    const patch = [
      { op: "replace", path: "/spec/suspend", value: true },
      { op: "replace", path: "/spec/jobTemplate/spec/template/spec/containers/0/image", value: image },
      { op: "replace", path: "/spec/jobTemplate/spec/template/spec/containers/0/env", value: Object.entries(env).map(([name, value]) => ({ name, value })) },
    ];
    writeFileSync(join(dir, "kustomization.yaml"), [
      "apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization",
      "resources:", `  - ${relative(dir, join(REPO_ROOT, "manifests"))}`,
      "patches:",
      "  - target: {kind: CronJob, name: ci-runner-app}", `    patch: '${JSON.stringify(patch)}'`,
      "  - target: {kind: ConfigMap, name: ci-runner-build-policy}",
      `    patch: '${JSON.stringify([{ op: "replace", path: "/data/kanikoImages", value: r.kanikoImage }])}'`,
      "",
    ].join("\n"));
    kubectl("apply", "--server-side", "--force-conflicts", "-k", dir);
  }

  /** Starts a tick from the CronJob, as the schedule would, and waits for it; samples its memory. */
  async function tick(name: string, during?: (pod: string) => Promise<void>, cronjob = "ci-runner-app") {
    kubectl("-n", "cicd", "create", "job", `--from=cronjob/${cronjob}`, name);
    const deadline = Date.now() + 600_000;
    let peak = 0;
    let acted = false;
    let job: Job | undefined;
    let first: PodList["items"][number] | undefined;
    // Followed from the start: a pod deleted mid-tick has no log to read afterwards.
    let follower: { output: string; exited: Promise<unknown> } | undefined;
    for (;;) {
      job = await world.get<Job>(`/apis/batch/v1/namespaces/cicd/jobs/${name}`);
      if (job?.status?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`tick ${name} did not finish in 10 minutes`);
      const pod = (await world.get<PodList>(`/api/v1/namespaces/cicd/pods?labelSelector=job-name%3D${name}`))?.items[0];
      if (pod) {
        first ??= pod;
        peak = Math.max(peak, podMemoryPeak(pod.metadata.uid));
        if (follower === undefined && pod.status.phase === "Running") follower = followLog(pod.metadata.name);
      }
      if (pod && follower && during && !acted) {
        await during(pod.metadata.name);
        acted = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const pod = (await world.get<PodList>(`/api/v1/namespaces/cicd/pods?labelSelector=job-name%3D${name}`))?.items[0] ?? first;
    let log = "";
    if (follower) {
      await Promise.race([follower.exited, new Promise((r) => setTimeout(r, 10_000))]);
      log = follower.output;
    } else if (pod) {
      log = kubectl("-n", "cicd", "logs", pod.metadata.name);
    }
    const exitCode = pod?.status.containerStatuses?.[0]?.state?.terminated?.exitCode;
    const wall = (Date.parse(job.status?.completionTime ?? new Date().toISOString()) - Date.parse(job.status?.startTime ?? "")) / 1000;
    return { pod, log, exitCode, wall, peakMB: peak / 1024 / 1024, logs: log.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string }) };
  }

  it("a tick from the CronJob builds and deploys; the next is idle: one 304, exit 0, no Job", async () => {
    app = world.app("app");
    const sha = app.commit();
    applyOverlay(app);

    const first = await tick("tick-1");
    console.log(`first tick (build + deploy) in the runner pod: ${first.wall.toFixed(1)}s wall, peak memory ${first.peakMB.toFixed(0)} MB`);
    expect(first.exitCode, first.log).toBe(0);
    expect(first.pod?.spec.securityContext?.runAsUser).toBe(10001);
    expect(first.pod?.spec.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect((await annotations(world, "app"))["ci-runner.dev/deployed-sha"]).toBe(sha);
    expect(await pagesServed(world, "app", "app")).toEqual([sha]);

    const jobsBefore = jobsInCicd();
    const before = await world.gitStats();
    const idle = await tick("tick-2");
    const after = await world.gitStats();
    console.log(`idle tick in the runner pod: ${idle.wall.toFixed(1)}s wall, peak memory ${idle.peakMB.toFixed(0)} MB`);
    expect(idle.exitCode, idle.log).toBe(0);
    expect(after.apiRequests - before.apiRequests).toBe(1);
    expect(after.apiCounted - before.apiCounted).toBe(0); // answered 304
    expect(idle.logs.map((l) => l.msg)).toContain("Release is up to date");
    expect(jobsInCicd().filter((j) => !jobsBefore.includes(j))).toEqual(["tick-2"]);
  });

  it("the tick pod deleted while helm runs: the grace period lets helm finish; the next tick converges, never pending", async () => {
    // A readiness delay keeps helm waiting long enough to delete the pod mid-upgrade.
    const chart = readFileSync(join(world.root, "work", "app", "chart", "templates", "deployment.yaml"), "utf8");
    const sha = app.commit({ "chart/templates/deployment.yaml": chart.replace("periodSeconds: 1", "periodSeconds: 1\n            initialDelaySeconds: 8") });
    const released = await tick("tick-3", async (pod) => {
      // Wait until helm is mid-upgrade, then delete the pod as a node drain would (SIGTERM).
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline) {
        const status = JSON.parse(world.helm("helm4", "status", "app", "-n", "app", "-o", "json")) as { info: { status: string } };
        if (status.info.status === "pending-upgrade") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      kubectl("-n", "cicd", "delete", "pod", pod, "--wait=false");
    });
    // The pod, told to stop mid-upgrade, let helm finish and recorded the deploy itself.
    expect(released.logs.map((l) => l.msg), released.log).toContain("Deployed release and recorded it");
    expect((await annotations(world, "app"))["ci-runner.dev/deployed-sha"]).toBe(sha);
    const next = await tick("tick-4");
    expect(next.exitCode, next.log).toBe(0);
    expect((await annotations(world, "app"))["ci-runner.dev/deployed-sha"]).toBe(sha);
    const history = JSON.parse(world.helm("helm4", "history", "app", "-n", "app", "-o", "json")) as { status: string }[];
    expect(history.filter((h) => h.status.startsWith("pending"))).toEqual([]);
    expect(await pagesServed(world, "app", "app")).toEqual([sha]);
    expect(jobsCreated(world, "app")).toEqual([]); // the runner in the pod does not go through the test's proxy
  });

  it("ci-runner install from nothing for a second repository: a tick deploys, an Ingress needs install again, uninstall leaves nothing", async () => {
    const { info } = world;
    const r = info.real!;
    const target = world.app("inst");
    const sha = target.commit();
    const sa = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
    // What install is given: the required settings, where this node's pods find git and the API
    // server (no kube-proxy here), and a schedule that does not fire during the test.
    const settings = {
      ...target.env("helm4", { RELEASE: "inst", DEPLOY_NS: "inst-app", HELM_TIMEOUT: "120s" }),
      GITHUB_API_URL: `https://${r.gateway}:${r.gitPort}/api/v3`, GIT_URL: `https://${r.gateway}:${r.gitPort}/${target.repo}.git`,
    };
    kubectl("-n", "cicd", "create", "secret", "generic", "inst-hook", `--from-literal=secret=${HOOK_SECRET}`);
    const args = ["install", "--runner-image", image, "--schedule", "0 0 1 1 *", "--receiver-secret", "inst-hook",
      "--runner-env", `KUBERNETES_SERVICE_HOST=${r.gateway}`, `KUBERNETES_SERVICE_PORT=${r.apiPort}`, `NODE_EXTRA_CA_CERTS=${sa}`, `GIT_SSL_CAINFO=${sa}`];
    const started = Date.now();
    const installed = await world.run(args, settings);
    expect(installed.code, installed.stderr).toBe(0);
    const installSeconds = (Date.now() - started) / 1000;
    const first = await tick("inst-1", undefined, "ci-runner-inst");
    expect(first.exitCode, first.log).toBe(0);
    expect(await pagesServed(world, "inst-app", "inst")).toEqual([sha]);
    console.log(`install -> first Ready pod: ${((Date.now() - started) / 1000).toFixed(1)}s (install ${installSeconds.toFixed(1)}s, the tick ${first.wall.toFixed(1)}s wall, peak ${first.peakMB.toFixed(0)} MB)`);
    // The deploy identity holds exactly what the chart renders, and Helm's own.
    const role = JSON.parse(kubectl("-n", "inst-app", "get", "role", "ci-runner-deploy", "-o", "json")) as { rules: { resources: string[] }[] };
    expect(role.rules.flatMap((rule) => rule.resources).sort()).toEqual(["deployments", "replicasets", "secrets"]);

    // A push, signed as GitHub signs it, to the receiver's pod: one tick starts at once (the
    // schedule never fires here) and the new commit answers.
    const receiverIp = await readyReceiver();
    const pushed = target.commit({ "app.txt": "pushed\n" });
    const pushedAt = Date.now();
    // One delivery as GitHub sends it: "<status> <body>", or "reset" when the connection breaks.
    const post = (payload: string | Buffer, headers: Record<string, string>) => fetch(`http://${receiverIp}:8080/webhook`, {
      method: "POST", body: payload, signal: AbortSignal.timeout(20_000), headers: { "content-type": "application/json", "x-github-event": "push", ...headers },
    }).then(async (r) => `${r.status} ${await r.text()}`.trim(), () => "reset");
    const sign = (payload: string | Buffer) => `sha256=${createHmac("sha256", HOOK_SECRET).update(payload).digest("hex")}`;
    const pushOf = (sha: string) => JSON.stringify({ ref: "refs/heads/main", after: sha, repository: { full_name: target.repo } });
    const answering = async (sha: string, what: string) => {
      for (let i = 0; !(await pagesServed(world, "inst-app", "inst")).includes(sha); i++) {
        if (i > 600) throw new Error(`${sha}, ${what}, was not answering 120 s after it`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const body = pushOf(pushed);
    const firstDelivery = "22222222-aaaa-4bbb-8ccc-000000000001";
    expect(await post(body, { "x-github-delivery": firstDelivery, "x-hub-signature-256": `sha256=${"0".repeat(64)}` })).toBe("401");
    expect(await post(body, { "x-github-delivery": firstDelivery, "x-hub-signature-256": sign(body) })).toBe("202 started");
    const pushJob = `ci-runner-inst-push-${pushed.slice(0, 12)}`;
    await answering(pushed, "the push");
    console.log(`webhook push -> new SHA answering: ${((Date.now() - pushedAt) / 1000).toFixed(1)}s`);
    expect(jobsInCicd().filter((j) => j.includes("-push-"))).toEqual([pushJob]);
    // The push's tick holds the lease until its follow-up look at the head is done: let it end.
    // Not `kubectl wait`: a synchronous child blocks this process, and with it the GitHub endpoint
    // that follow-up look asks.
    await jobComplete(pushJob);
    const owner = JSON.parse(kubectl("-n", "cicd", "get", "job", pushJob, "-o", "jsonpath={.metadata.ownerReferences}")) as { kind: string; name: string }[];
    expect(owner.map((o) => `${o.kind}/${o.name}`)).toEqual(["CronJob/ci-runner-inst"]);

    // What must change nothing: a replay, another branch, a body over GitHub's limit, a flood of
    // unsigned requests. No Job starts, and the receiver still answers.
    expect(await post(body, { "x-github-delivery": firstDelivery, "x-hub-signature-256": sign(body) })).toBe("202 duplicate");
    const otherBranch = JSON.stringify({ ref: "refs/heads/other", after: pushed, repository: { full_name: target.repo } });
    expect(await post(otherBranch, { "x-github-delivery": "22222222-aaaa-4bbb-8ccc-000000000002", "x-hub-signature-256": sign(otherBranch) })).toBe("202 other-branch");
    const huge = Buffer.alloc(26 * 1024 * 1024, 0x20);
    expect(["413", "reset"]).toContain(await post(huge, { "x-github-delivery": "22222222-aaaa-4bbb-8ccc-000000000003", "x-hub-signature-256": sign(huge) }));
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => post(body, { "x-github-delivery": `flood-${i}` })));
    expect(new Set(flood)).toEqual(new Set(["401"]));
    expect((await fetch(`http://${receiverIp}:8080/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    expect(jobsInCicd().filter((j) => j.includes("-push-"))).toEqual([pushJob]);

    // A burst of ten pushes, each delivered as GitHub would right after it: at most two ticks
    // start (one waits unstarted for the newest head), and the last SHA is what answers.
    const burstStart = Date.now();
    let last = pushed;
    for (let n = 0; n < 10; n++) {
      last = target.commit({ "app.txt": `burst ${n}\n` });
      const payload = pushOf(last);
      expect(await post(payload, { "x-github-delivery": `burst-${n}`, "x-hub-signature-256": sign(payload) })).toMatch(/^202 (started|queued)$/);
    }
    const burstSeconds = (Date.now() - burstStart) / 1000;
    await answering(last, "the burst's last push");
    const burstJobs = jobsInCicd().filter((j) => j.includes("-push-") && j !== pushJob);
    console.log(`burst of 10 pushes over ${burstSeconds.toFixed(1)}s -> ${burstJobs.length} tick(s), last SHA answering ${((Date.now() - burstStart) / 1000).toFixed(1)}s after the first push`);
    expect(burstJobs.length).toBeGreaterThanOrEqual(1);
    expect(burstJobs.length).toBeLessThanOrEqual(2);
    for (const job of burstJobs) await jobComplete(job);

    const withIngress = target.commit({ "chart/templates/ingress.yaml": ingressTemplate(8080) });
    const refused = await tick("inst-2", undefined, "ci-runner-inst");
    expect(refused.exitCode, refused.log).toBe(2);
    expect(refused.log).toContain("cannot create ingresses.networking.k8s.io in namespace inst-app");
    expect(refused.log).toContain("run the same `ci-runner install` again");
    expect((await world.run(args, settings)).code).toBe(0);
    const next = await tick("inst-3", undefined, "ci-runner-inst");
    expect(next.exitCode, next.log).toBe(0);
    expect((await annotations(world, "inst"))["ci-runner.dev/deployed-sha"]).toBe(withIngress);

    const gone = await world.run(["uninstall", "--delete-release"], settings);
    expect(gone.code, gone.stderr).toBe(0);
    const left = kubectl("get", "serviceaccounts,roles,rolebindings,cronjobs,jobs,configmaps,deployments,services,validatingadmissionpolicybindings", "-A", "-l", "ci-runner.dev/installation=inst", "-o", "name");
    expect(left).toBe("");
    expect(kubectl("-n", "cicd", "get", "jobs,configmaps", "-o", "name").split("\n").filter((n) => n.includes("inst"))).toEqual([]);
    const ns = JSON.parse(kubectl("get", "namespace", "inst-app", "-o", "json", "--ignore-not-found") || "{}") as { status?: { phase?: string } };
    expect(ns.status?.phase === undefined || ns.status.phase === "Terminating").toBe(true);
  });

  function followLog(pod: string): { output: string; exited: Promise<unknown> } {
    const { info } = world;
    const child = spawn(info.kubectl, ["--kubeconfig", info.kubeconfig, "-n", "cicd", "logs", "-f", pod], { stdio: ["ignore", "pipe", "ignore"] });
    const follower = { output: "", exited: new Promise((resolve) => child.on("close", resolve)) };
    child.stdout.on("data", (c: Buffer) => { follower.output += c.toString("utf8"); });
    return follower;
  }

  /** The receiver's pod IP once it is Ready (no kube-proxy here: the host reaches pods directly). */
  async function readyReceiver(): Promise<string> {
    for (let i = 0; i < 600; i++) {
      const pods = await world.get<PodList>("/api/v1/namespaces/cicd/pods?labelSelector=app.kubernetes.io%2Finstance%3Dinst,app.kubernetes.io%2Fname%3Dci-runner-receiver");
      const ready = pods?.items.find((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      if (ready?.status.podIP) return ready.status.podIP;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the receiver pod was not Ready in 120 s: ${kubectl("-n", "cicd", "get", "pods", "-o", "wide")}`);
  }

  /** Waits, without blocking this process (it serves git and GitHub), for a Job to complete. */
  async function jobComplete(name: string): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const job = await world.get<Job>(`/apis/batch/v1/namespaces/cicd/jobs/${name}`);
      if (job?.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")) return;
      if (job?.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True")) throw new Error(`Job ${name} failed`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Job ${name} did not complete in 120 s`);
  }

  function jobsInCicd(): string[] {
    return kubectl("-n", "cicd", "get", "jobs", "-o", "name").split("\n").filter(Boolean).map((n) => n.replace("job.batch/", ""));
  }
});

/** The pod's peak memory so far, from its cgroup (v1 memory controller, cgroupfs driver), or 0. */
function podMemoryPeak(uid: string): number {
  for (const qos of ["", "burstable/", "besteffort/"]) {
    const file = `/sys/fs/cgroup/memory/kubepods/${qos}pod${uid}/memory.max_usage_in_bytes`;
    if (existsSync(file)) return Number(readFileSync(file, "utf8"));
  }
  return 0;
}
