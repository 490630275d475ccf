import { beforeEach, describe, expect, it } from "vitest";
import { KanikoBuilds } from "../../../src/adapters/build/kaniko.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { ConfigError } from "../../../src/errors.ts";
import { apis } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "tkn_0123456789abcdefghijklmnop";
const config = loadConfig({
  REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: "feature/x",
  GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", REGISTRY_SECRET: "regcred", BUILD_CONTEXT: "app", BUILD_TIMEOUT: "15m",
}, {});

describe("Kaniko builds against the API", () => {
  const server = strictServerPerTest();
  let builds: KanikoBuilds;
  const lines: string[] = [];
  const JOBS = "/apis/batch/v1/namespaces/cicd/jobs";
  const name = "build-shop-0123456789ab-1";
  const ours = { apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace: "cicd", labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": SHA, "ci-runner.dev/attempt": "1" } }, status: {} };
  const PODS = `/api/v1/namespaces/cicd/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${name}`)}&limit=100`;
  const WATCH = new RegExp(`^${JOBS}\\?.*watch=true`);
  const running = { ...ours, metadata: { ...ours.metadata, resourceVersion: "7" } };
  const complete = { ...ours, status: { conditions: [{ type: "Complete", status: "True" }] } };
  const pendingPod = (waiting?: { reason: string; message?: string }) => ({ items: [{ metadata: { name: `${name}-x` }, status: { phase: "Pending", containerStatuses: waiting ? [{ name: "kaniko", state: { waiting } }] : [] } }] });
  const open = new AbortController().signal;

  beforeEach(() => {
    const { kc, core, batch } = apis(server.url);
    lines.length = 0;
    builds = new KanikoBuilds({ kc, core, batch, log: testLog(lines), config });
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
      { method: "GET", path: PODS,
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
