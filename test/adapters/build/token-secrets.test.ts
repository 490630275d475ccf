import { describe, expect, it } from "vitest";
import { KanikoBuilds } from "../../../src/adapters/build/kaniko.ts";
import { TokenSecrets } from "../../../src/adapters/build/token-secrets.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { tokenSecretName } from "../../../src/names.ts";
import { ConfigError } from "../../../src/errors.ts";
import { apis } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const JOB = "build-shop-0123456789ab-1";
const SECRET = `${JOB}-git-token`;
const SECRETS = "/api/v1/namespaces/cicd/secrets";
const JOBS = "/apis/batch/v1/namespaces/cicd/jobs";
const server = strictServerPerTest();
const settings = loadConfig({ REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop" }, {});
/** With a GitHub App (its key is never read here: the token comes from `auth` below). */
const config = { ...settings, githubApp: { appId: 777, privateKey: "unused" } };

/** The real build runner with the App's token Secrets, against the strict API server. */
function builds() {
  const { kc, core, batch } = apis(server.url);
  const tokenSecrets = new TokenSecrets({ core, batch, namespace: "cicd", release: "shop", auth: { buildToken: async () => "ghs_minted_token_value_123" }, log: testLog() });
  return new KanikoBuilds({ kc, core, batch, log: testLog(), config, tokenSecrets });
}

const jobCreated = { method: "POST", path: `${JOBS}?fieldManager=ci-runner`, check: (r: { body: string }) => expect(JSON.parse(r.body).spec.template.spec.containers[0].env).toContainEqual({ name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: SECRET, key: "token" } } }), reply: { status: 201, body: { metadata: { name: JOB } } } } as const;

describe("a GitHub App's token reaches the build pod in a Secret its Job owns", () => {
  it("a run killed before the Job owned its Secret: the tick that adopts and awaits the Job gives it the Secret", async () => {
    const complete = { metadata: { name: JOB, uid: "job-uid-9" }, status: { conditions: [{ type: "Complete", status: "True" }] } };
    server.expect(
      { method: "GET", path: `${JOBS}/${JOB}`, reply: { status: 200, body: { metadata: { name: JOB, uid: "job-uid-9" } } } },
      { method: "PATCH", path: /^\/api\/v1\/namespaces\/cicd\/secrets\/build-/, check: (r) => expect(JSON.parse(r.body).metadata.ownerReferences[0]).toMatchObject({ kind: "Job", name: JOB, uid: "job-uid-9" }), reply: { status: 200, body: {} } },
      { method: "GET", path: `${JOBS}/${JOB}`, reply: { status: 200, body: complete } },
      { method: "GET", path: /^\/api\/v1\/namespaces\/cicd\/pods\?labelSelector=batch\.kubernetes\.io%2Fjob-name%3Dbuild-shop-0123456789ab-1&limit=100$/, reply: { status: 200, body: { items: [] } } },
    );
    await builds().wait(JOB, new AbortController().signal);
  });

  it("Secret first (labelled, the token in it), then the Job that reads it, then the Job owns the Secret", async () => {
    server.expect(
      {
        method: "POST", path: `${SECRETS}?fieldManager=ci-runner`,
        check: (r) => expect(JSON.parse(r.body)).toMatchObject({ metadata: { name: SECRET, labels: { "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop", "ci-runner.dev/sha": SHA } }, stringData: { token: "ghs_minted_token_value_123" } }),
        reply: { status: 201, body: { metadata: { name: SECRET } } },
      },
      jobCreated,
      { method: "GET", path: `${JOBS}/${JOB}`, reply: { status: 200, body: { metadata: { name: JOB, uid: "job-uid-9" } } } },
      {
        method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`,
        check: (r) => {
          expect(r.headers["content-type"]).toBe("application/merge-patch+json");
          expect(JSON.parse(r.body)).toEqual({ metadata: { ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: JOB, uid: "job-uid-9", controller: false, blockOwnerDeletion: false }] } });
        },
        reply: { status: 200, body: {} },
      },
    );
    expect(await builds().start({ sha: SHA, attempt: 1 })).toBe(JOB);
    expect(tokenSecretName(JOB)).toBe(SECRET);
  });

  it("a Secret left by a killed run is refreshed with this run's token, only if it is ours (JSON patch tests)", async () => {
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
      jobCreated,
      { method: "GET", path: `${JOBS}/${JOB}`, reply: { status: 200, body: { metadata: { uid: "u" } } } },
      { method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`, reply: { status: 200, body: {} } },
    );
    await builds().start({ sha: SHA, attempt: 1 });
  });

  it("someone else's Secret under that name is refused untouched, and no Job is created", async () => {
    server.expect(
      { method: "POST", path: `${SECRETS}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
      { method: "PATCH", path: `${SECRETS}/${SECRET}?fieldManager=ci-runner`, reply: { status: 422, body: { kind: "Status", code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request" } } },
    );
    const error = await builds().start({ sha: SHA, attempt: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`Secret cicd/${SECRET} exists but is not ci-runner's for shop`);
  });
});
