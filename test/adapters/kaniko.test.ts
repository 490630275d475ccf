import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KanikoBuilds } from "../../src/adapters/kaniko.ts";
import { kanikoContext, kanikoJob } from "../../src/adapters/kaniko-job.ts";
import { loadConfig } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";
import { apis } from "../support/kube.ts";
import { testLog } from "../support/pass-context.ts";
import { strictServer } from "../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "tkn_0123456789abcdefghijklmnop";
const config = loadConfig({
  REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: "feature/x",
  GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", REGISTRY_SECRET: "regcred", BUILD_CONTEXT: "app", BUILD_TIMEOUT: "15m",
}, {});

describe("Kaniko Job manifest", () => {
  const job = kanikoJob(config, SHA, 2);
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0];

  it("is named and labelled from the SHA and attempt", () => {
    expect(job.metadata).toMatchObject({ name: "build-shop-0123456789ab-2", namespace: "cicd", labels: { "ci-runner.dev/sha": SHA, "ci-runner.dev/attempt": "2" } });
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
  });

  it("builds exactly that commit and pushes both tags", () => {
    expect(container?.args).toEqual([
      `--context=git://github.com/acme/shop.git#refs/heads/feature/x#${SHA}`,
      "--context-sub-path=app",
      "--dockerfile=Dockerfile",
      `--destination=registry.local:5000/acme/shop:${SHA}`,
      "--destination=registry.local:5000/acme/shop:feature-x-latest",
      `--build-arg=REVISION=${SHA}`,
      `--label=org.opencontainers.image.revision=${SHA}`,
      "--label=org.opencontainers.image.source=https://github.com/acme/shop",
      "--digest-file=/dev/termination-log",
      "--cache=true",
      "--cache-repo=registry.local:5000/acme/shop/cache",
      "--snapshot-mode=full",
      "--push-retry=2",
    ]);
    expect(container?.terminationMessagePath).toBe("/dev/termination-log");
    expect(container?.resources).toEqual({ requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi" } });
  });

  it("takes build arguments with {sha} and {branch}, the cache off, another snapshot mode and limits from the settings", () => {
    const tuned = loadConfig({
      REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: "dev",
      BUILD_ARGS: "REVISION={sha}, CHANNEL={branch},EMPTY=", BUILD_CACHE: "false", SNAPSHOT_MODE: "redo", PUSH_RETRY: "0",
      BUILD_CPU_LIMIT: "2", BUILD_MEMORY_LIMIT: "4Gi", BUILD_MEMORY_REQUEST: "1Gi",
    }, {});
    const tunedContainer = kanikoJob(tuned, SHA, 1).spec?.template.spec?.containers[0];
    expect(tunedContainer?.args).toEqual(expect.arrayContaining([`--build-arg=REVISION=${SHA}`, "--build-arg=CHANNEL=dev", "--build-arg=EMPTY=", "--cache=false", "--snapshot-mode=redo", "--push-retry=0"]));
    expect(tunedContainer?.args?.some((a) => a.startsWith("--cache-repo"))).toBe(false);
    expect(tunedContainer?.resources).toEqual({ requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } });
  });

  it("refuses malformed build settings, each named", () => {
    expect(() => loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BUILD_ARGS: "1BAD=x", SNAPSHOT_MODE: "fast", BUILD_MEMORY_LIMIT: "lots" }, {}))
      .toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^BUILD_ARGS="1BAD=x" is invalid/), expect.stringMatching(/^SNAPSHOT_MODE="fast" is invalid/), expect.stringMatching(/^BUILD_MEMORY_LIMIT="lots" is invalid/)] }));
  });

  it("leaves retries to us, has a deadline and a TTL", () => {
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 86400 });
    expect(pod?.restartPolicy).toBe("Never");
  });

  it("references secrets, never carries their values, and is not privileged", () => {
    const text = JSON.stringify(job);
    expect(text).not.toContain(TOKEN);
    expect(container?.env).toEqual([
      { name: "GIT_USERNAME", value: "x-access-token" },
      { name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: "git-token", key: "token" } } },
    ]);
    expect(pod?.volumes).toEqual([{ name: "docker-config", secret: { secretName: "regcred", items: [{ key: ".dockerconfigjson", path: "config.json" }] } }]);
    expect(container?.volumeMounts).toEqual([{ name: "docker-config", mountPath: "/kaniko/.docker", readOnly: true }]);
    expect(container?.securityContext?.privileged).toBe(false);
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.hostNetwork ?? pod?.hostPID ?? pod?.hostIPC).toBeUndefined();
  });

  it("a public repository (no GIT_TOKEN) references no token Secret, even when GIT_TOKEN_SECRET is set", () => {
    const publicRepo = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GIT_TOKEN_SECRET: "git-token" }, {});
    const env = kanikoJob(publicRepo, SHA, 1).spec?.template.spec?.containers[0]?.env ?? [];
    expect(JSON.stringify(env)).not.toContain("secretKeyRef");
    expect(env).toEqual([]);
  });

  it("with a GitHub App the Job reads the token minted for it from the Secret named after it, as plan shows", () => {
    // A PEM-shaped placeholder, put together here so secret scanners do not mistake it for a key.
    const pem = (edge: string) => `-----${edge} RSA PRIVATE KEY-----`;
    const key = `${pem("BEGIN")}\\nMIIB\\n${pem("END")}`;
    const app = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GITHUB_APP_ID: "12", GITHUB_APP_PRIVATE_KEY: key }, {});
    const job = kanikoJob(app, SHA, 1);
    expect(job.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: `${job.metadata?.name}-git-token`, key: "token" } } });
  });

  it("a plain-HTTP git URL tells Kaniko to clone over HTTP", () => {
    const http = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GIT_URL: "http://git.local:8080/acme/shop.git" }, {});
    expect(kanikoJob(http, SHA, 1).spec?.template.spec?.containers[0]?.env).toEqual([{ name: "GIT_PULL_METHOD", value: "http" }]);
  });

  it("turns a clone URL into Kaniko's git context", () => {
    expect(kanikoContext("https://ghe.example.com/acme/shop.git", "main", SHA)).toBe(`git://ghe.example.com/acme/shop.git#refs/heads/main#${SHA}`);
  });
});

describe("Kaniko builds against the API", () => {
  let server: Awaited<ReturnType<typeof strictServer>>;
  let builds: KanikoBuilds;
  const lines: string[] = [];
  const JOBS = "/apis/batch/v1/namespaces/cicd/jobs";
  const name = "build-shop-0123456789ab-1";
  const ours = { apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace: "cicd", labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": SHA, "ci-runner.dev/attempt": "1" } }, status: {} };
  const PODS = `/api/v1/namespaces/cicd/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${name}`)}`;
  const WATCH = new RegExp(`^${JOBS}\\?.*watch=true`);
  const running = { ...ours, metadata: { ...ours.metadata, resourceVersion: "7" } };
  const complete = { ...ours, status: { conditions: [{ type: "Complete", status: "True" }] } };
  const pendingPod = (waiting?: { reason: string; message?: string }) => ({ items: [{ metadata: { name: `${name}-x` }, status: { phase: "Pending", containerStatuses: waiting ? [{ name: "kaniko", state: { waiting } }] : [] } }] });
  const open = new AbortController().signal;

  beforeEach(async () => {
    server = await strictServer();
    const { kc, core, batch } = apis(server.url);
    lines.length = 0;
    builds = new KanikoBuilds({ kc, core, batch, log: testLog(lines), config });
  });
  afterEach(async () => {
    server.verify();
    await server.close();
  });

  it("creates the Job", async () => {
    server.expect({ method: "POST", path: `${JOBS}?fieldManager=ci-runner`, check: (r) => expect(JSON.parse(r.body).metadata.name).toBe(name), reply: { status: 201, body: ours } });
    await builds.start({ sha: SHA, attempt: 1 });
  });

  it("a Job refused by an admission policy says so and points at the build policy, not at RBAC", async () => {
    const message = `jobs.batch "${name}" is forbidden: ValidatingAdmissionPolicy 'ci-runner-build-jobs' with binding 'ci-runner-build-jobs' denied request: container kaniko runs x`;
    server.expect(
      { method: "POST", path: `${JOBS}?fieldManager=ci-runner`, reply: { status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message, details: { name, group: "batch", kind: "jobs", causes: [{ message: "container kaniko runs x" }] } } } },
      { method: "POST", path: `${JOBS}?fieldManager=ci-runner`, reply: { status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message: `jobs.batch is forbidden: User "system:serviceaccount:cicd:deployer" cannot create resource "jobs"` } } },
    );
    const refused = await builds.start({ sha: SHA, attempt: 1 }).catch((e: unknown) => e) as ConfigError;
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused.message).toContain("refused by admission: jobs.batch");
    expect(refused.remedy).toContain("cicd/ci-runner-build-policy");
    const forbidden = await builds.start({ sha: SHA, attempt: 1 }).catch((e: unknown) => e) as ConfigError;
    expect(forbidden.remedy).toContain("grant the missing permission");
  });

  it("adopts an AlreadyExists Job of ours instead of building twice", async () => {
    server.expect(
      { method: "POST", path: `${JOBS}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: ours } },
    );
    await builds.start({ sha: SHA, attempt: 1 });
  });

  it("refuses a same-named Job of another target or commit: two releases never share a build", async () => {
    for (const labels of [{ "ci-runner.dev/target": "other" }, { "ci-runner.dev/sha": "f".repeat(40) }, { "ci-runner.dev/attempt": "2" }]) {
      server.expect({ method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: { ...ours, metadata: { ...ours.metadata, labels: { ...ours.metadata.labels, ...labels } } } } });
      await expect(builds.find(SHA, 1)).rejects.toThrow(/belongs to release/);
    }
  });

  it("refuses a same-named Job that is not ours", async () => {
    server.expect(
      { method: "POST", path: `${JOBS}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: { ...ours, metadata: { ...ours.metadata, labels: {} } } } },
    );
    await expect(builds.start({ sha: SHA, attempt: 1 })).rejects.toBeInstanceOf(ConfigError);
  });

  it("reads the pushed digest from the termination message of a complete Job", async () => {
    const digest = `sha256:${"e".repeat(64)}`;
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: { ...ours, status: { conditions: [{ type: "Complete", status: "True" }] } } } },
      { method: "GET", path: `/api/v1/namespaces/cicd/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${name}`)}`,
        reply: { status: 200, body: { items: [{ metadata: { name: `${name}-x` }, status: { containerStatuses: [{ name: "kaniko", state: { terminated: { exitCode: 0, message: `${digest}\n` } } }] } }] } } },
    );
    expect(await builds.find(SHA, 1)).toMatchObject({ phase: "succeeded", digest, sha: SHA, attempt: 1 });
  });

  it("explains a failed Job and where to read its log", async () => {
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: { ...ours, status: { conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }] } } } },
      { method: "GET", path: /^\/api\/v1\/namespaces\/cicd\/pods\?labelSelector=/, reply: { status: 200, body: { items: [{ status: { containerStatuses: [{ name: "kaniko", state: { terminated: { exitCode: 1, reason: "Error" } } }] } }] } } },
    );
    expect(await builds.find(SHA, 1)).toMatchObject({
      phase: "failed",
      reason: `build pod exited with code 1 (Error); see kubectl -n cicd logs job/${name}`,
    });
  });

  it("a Job that does not exist is not found", async () => {
    server.expect({ method: "GET", path: `${JOBS}/${name}`, reply: { status: 404, body: { kind: "Status", code: 404 } } });
    expect(await builds.find(SHA, 1)).toBeUndefined();
  });

  it("a watch that ends (closed, expired, timed out) is read again, not an error: a long build is awaited to the end", async () => {
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod() } },
      { method: "GET", path: WATCH, check: (r) => expect(r.url).toContain("timeoutSeconds=10"), reply: { status: 200, body: "" } },
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod() } },
      { method: "GET", path: WATCH, reply: { status: 410, body: { kind: "Status", code: 410, reason: "Expired" } } },
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod() } },
      { method: "GET", path: WATCH, reply: { status: 200, body: `${JSON.stringify({ type: "MODIFIED", object: complete })}\n` } },
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: complete } },
      // Finished before a relay started: the log is read once, so its last lines still reach us.
      { method: "GET", path: PODS, reply: { status: 200, body: { items: [{ metadata: { name: `${name}-x` }, status: { phase: "Succeeded", containerStatuses: [{ name: "kaniko", state: { terminated: { exitCode: 0 } } }] } }] } } },
      { method: "GET", path: `/api/v1/namespaces/cicd/pods/${name}-x/log?container=kaniko`, reply: { status: 200, body: "\u001b[36mINFO\u001b[0m[0003] Pushed image\nEnumerating objects: 50% (1/2)\r\n" } },
    );
    await builds.wait(name, open);
    const relayed = lines.map((l) => JSON.parse(l) as { msg: string; line?: string }).filter((l) => l.msg === "Build output").map((l) => l.line);
    expect(relayed).toEqual(["INFO[0003] Pushed image"]);
  });

  it("a refused watch is a configuration error naming the permission", async () => {
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod() } },
      { method: "GET", path: WATCH, reply: { status: 403, body: { kind: "Status", code: 403 } } },
    );
    await expect(builds.wait(name, open)).rejects.toThrow("watching build Job cicd/build-shop-0123456789ab-1: the API server refused the watch (HTTP 403)");
  });

  it("a build pod that cannot start (missing Secret) is a configuration error at once, naming the reason", async () => {
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod({ reason: "CreateContainerConfigError", message: 'secret "git-token" not found' }) } },
    );
    const error = await builds.wait(name, open).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`build pod ${name}-x cannot start: CreateContainerConfigError: secret "git-token" not found`);
    expect((error as ConfigError).remedy).toContain("create the Secret it names in cicd");
  });

  it("stops waiting when the fence aborts, with the fence's reason", async () => {
    const fence = new AbortController();
    const lost = new Error("lease lost");
    server.expect(
      { method: "GET", path: `${JOBS}/${name}`, reply: { status: 200, body: running } },
      { method: "GET", path: PODS, reply: { status: 200, body: pendingPod() } },
      // A stalled API server: the watch is accepted and never answered; only the fence ends the wait.
      { method: "GET", path: WATCH, check: () => void setTimeout(() => fence.abort(lost), 50), reply: { status: 200, hold: true } },
    );
    await expect(builds.wait(name, fence.signal)).rejects.toBe(lost);
  });
});
