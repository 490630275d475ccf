import { describe, expect, it } from "vitest";
import { TokenSecretBuilds } from "../../src/adapters/build-token.ts";
import { tokenSecretName } from "../../src/names.ts";
import { tokenBound } from "../../src/adapters/github-credentials.ts";
import { ConfigError } from "../../src/errors.ts";
import type { BuildRunner } from "../../src/reconcile/ports.ts";
import { apis } from "../support/kube.ts";
import { testLog } from "../support/pass-context.ts";
import { strictServerPerTest } from "../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const JOB = "build-shop-0123456789ab-1";
const SECRET = `${JOB}-git-token`;
const SECRETS = "/api/v1/namespaces/cicd/secrets";
const server = strictServerPerTest();

function builds(started: string[]) {
  const inner = (label: string): BuildRunner => ({
    jobName: () => JOB, find: async () => undefined, wait: async () => undefined, remove: async () => undefined, inFlight: async () => [],
    start: async () => void started.push(label),
  });
  const { core, batch } = apis(server.url);
  return new TokenSecretBuilds({
    core, batch, namespace: "cicd", release: "shop", auth: { token: async () => "ghs_minted_token_value_123" }, log: testLog(),
    builds: inner("plain"), withSecret: (secret, token) => inner(`with ${secret} (${token.slice(0, 4)})`),
  });
}

describe("a GitHub App's token reaches the build pod in a Secret its Job owns", () => {
  it("a run killed before the Job owned its Secret: the tick that adopts and awaits the Job gives it the Secret", async () => {
    server.expect(
      { method: "GET", path: `/apis/batch/v1/namespaces/cicd/jobs/${JOB}`, reply: { status: 200, body: { metadata: { name: JOB, uid: "job-uid-9" } } } },
      { method: "PATCH", path: /^\/api\/v1\/namespaces\/cicd\/secrets\/build-/, check: (r) => expect(JSON.parse(r.body).metadata.ownerReferences[0]).toMatchObject({ kind: "Job", name: JOB, uid: "job-uid-9" }), reply: { status: 200, body: {} } },
    );
    await builds([]).wait(JOB, new AbortController().signal);
  });

  it("Secret first (labelled, the token in it), then the Job that reads it, then the Job owns the Secret", async () => {
    const started: string[] = [];
    server.expect(
      {
        method: "POST", path: `${SECRETS}?fieldManager=ci-runner`,
        check: (r) => expect(JSON.parse(r.body)).toMatchObject({ metadata: { name: SECRET, labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": SHA } }, stringData: { token: "ghs_minted_token_value_123" } }),
        reply: { status: 201, body: { metadata: { name: SECRET } } },
      },
      { method: "GET", path: `/apis/batch/v1/namespaces/cicd/jobs/${JOB}`, check: () => expect(started).toEqual([`with ${SECRET} (ghs_)`]), reply: { status: 200, body: { metadata: { name: JOB, uid: "job-uid-9" } } } },
      {
        method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`,
        check: (r) => {
          expect(r.headers["content-type"]).toBe("application/merge-patch+json");
          expect(JSON.parse(r.body)).toEqual({ metadata: { ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: JOB, uid: "job-uid-9", controller: false, blockOwnerDeletion: false }] } });
        },
        reply: { status: 200, body: {} },
      },
    );
    await builds(started).start({ sha: SHA, attempt: 1 });
    expect(tokenSecretName(JOB)).toBe(SECRET);
  });

  it("a Secret left by a killed run is refreshed with this run's token, only if it is ours (JSON patch tests)", async () => {
    const started: string[] = [];
    server.expect(
      { method: "POST", path: `${SECRETS}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
      {
        method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`,
        check: (r) => {
          expect(r.headers["content-type"]).toBe("application/json-patch+json");
          expect(JSON.parse(r.body)).toEqual([
            { op: "test", path: "/metadata/labels/app.kubernetes.io~1managed-by", value: "ci-runner" },
            { op: "test", path: "/metadata/labels/ci-runner.dev~1target", value: "shop" },
            { op: "add", path: "/data/token", value: Buffer.from("ghs_minted_token_value_123").toString("base64") },
          ]);
        },
        reply: { status: 200, body: {} },
      },
      { method: "GET", path: `/apis/batch/v1/namespaces/cicd/jobs/${JOB}`, reply: { status: 200, body: { metadata: { uid: "u" } } } },
      { method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`, reply: { status: 200, body: {} } },
    );
    await builds(started).start({ sha: SHA, attempt: 1 });
    expect(started).toHaveLength(1);
  });

  it("someone else's Secret under that name is refused untouched, and no Job is created", async () => {
    const started: string[] = [];
    server.expect(
      { method: "POST", path: `${SECRETS}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
      { method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`, reply: { status: 422, body: { kind: "Status", code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request" } } },
    );
    const error = await builds(started).start({ sha: SHA, attempt: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`Secret cicd/${SECRET} exists but is not ci-runner's for shop`);
    expect(started).toEqual([]);
  });
});

describe("tokenBound", () => {
  it("one instance per token, each call with the current token", async () => {
    let token = "t1";
    const made: string[] = [];
    const bound = tokenBound({ token: async () => token }, (t) => {
      made.push(t ?? "");
      return { who: async (x: string) => `${t}:${x}` };
    });
    expect(await bound.who("a")).toBe("t1:a");
    expect(await bound.who("b")).toBe("t1:b");
    token = "t2";
    expect(await bound.who("c")).toBe("t2:c");
    expect(made).toEqual(["t1", "t2"]);
  });
});
