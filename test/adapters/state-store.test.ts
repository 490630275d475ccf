import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigMapStateStore } from "../../src/adapters/state-store.ts";
import { ConfigError, ConflictError, TransientError } from "../../src/errors.ts";
import { PREFIX } from "../../src/reconcile/state-codec.ts";
import { apis, forbidden } from "../support/kube.ts";
import { strictServer } from "../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const CM = "/api/v1/namespaces/cicd/configmaps/ci-runner-shop";
let server: Awaited<ReturnType<typeof strictServer>>;
let store: ConfigMapStateStore;

beforeEach(async () => {
  server = await strictServer();
  store = new ConfigMapStateStore(apis(server.url).core, "cicd", "ci-runner-shop", "shop");
});
afterEach(async () => {
  server.verify();
  await server.close();
});

function configMap(rv: string, annotations: Record<string, string>) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ci-runner-shop", namespace: "cicd", resourceVersion: rv, annotations } };
}

describe("ConfigMap state store", () => {
  it("reads annotations and the resourceVersion with one GET", async () => {
    server.expect({
      method: "GET", path: CM,
      check: (r) => expect(r.headers.authorization).toBe("Bearer test-token"),
      reply: { status: 200, body: configMap("41", { [`${PREFIX}head-sha`]: SHA, [`${PREFIX}head-etag`]: '"e"' }) },
    });
    expect(await store.read()).toEqual({ state: { head: { sha: SHA, etag: '"e"' } }, resourceVersion: "41", warnings: [] });
  });

  it("a missing ConfigMap is empty state", async () => {
    server.expect({ method: "GET", path: CM, reply: { status: 404, body: { kind: "Status", code: 404, reason: "NotFound" } } });
    expect(await store.read()).toEqual({ state: {}, resourceVersion: undefined, warnings: [] });
  });

  it("writes with a merge patch that carries the resourceVersion (compare-and-swap)", async () => {
    server.expect({
      method: "PATCH", path: `${CM}?fieldManager=ci-runner`,
      check: (r) => {
        expect(r.headers["content-type"]).toBe("application/merge-patch+json");
        const body = JSON.parse(r.body);
        expect(body.metadata.resourceVersion).toBe("41");
        expect(body.metadata.annotations[`${PREFIX}deployed-sha`]).toBe(SHA);
        expect(body.metadata.annotations[`${PREFIX}lease-holder`]).toBeNull();
      },
      reply: { status: 200, body: configMap("42", { [`${PREFIX}deployed-sha`]: SHA, [`${PREFIX}deployed-at`]: "2026-11-21T12:00:00.000Z" }) },
    });
    const snapshot = await store.write({ deployed: { sha: SHA, at: "2026-11-21T12:00:00.000Z", digest: undefined, revision: undefined } }, "41");
    expect(snapshot.resourceVersion).toBe("42");
    expect(snapshot.state.deployed?.sha).toBe(SHA);
  });

  it("a stale resourceVersion is a conflict", async () => {
    server.expect({ method: "PATCH", path: `${CM}?fieldManager=ci-runner`, reply: { status: 409, body: { kind: "Status", code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on configmaps \"ci-runner-shop\": the object has been modified" } } });
    const error = await store.write({}, "40").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(/the object has been modified/);
  });

  it("the first write creates the ConfigMap; losing that race is a conflict", async () => {
    server.expect(
      {
        method: "POST", path: "/api/v1/namespaces/cicd/configmaps?fieldManager=ci-runner",
        check: (r) => {
          const body = JSON.parse(r.body);
          expect(body.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "ci-runner", "ci-runner.dev/target": "shop" });
          expect(body.metadata.annotations[`${PREFIX}lease-holder`]).toBe("me");
          expect(Object.values(body.metadata.annotations)).not.toContain(null);
        },
        reply: { status: 201, body: configMap("1", { [`${PREFIX}lease-holder`]: "me", [`${PREFIX}lease-expires`]: "2026-11-21T12:00:45.000Z" }) },
      },
      { method: "POST", path: "/api/v1/namespaces/cicd/configmaps?fieldManager=ci-runner", reply: { status: 409, body: { kind: "Status", code: 409, reason: "AlreadyExists" } } },
    );
    const lease = { holder: "me", expiresAt: "2026-11-21T12:00:45.000Z" };
    expect((await store.write({ lease }, undefined)).resourceVersion).toBe("1");
    await expect(store.write({ lease }, undefined)).rejects.toBeInstanceOf(ConflictError);
  });

  it("a missing permission names the verb, resource and namespace", async () => {
    server.expect({ method: "GET", path: CM, reply: forbidden("get", "configmaps", "cicd") });
    const error = await store.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('reading state configmap cicd/ci-runner-shop: configmaps is forbidden: User "system:serviceaccount:cicd:deployer" cannot get resource "configmaps" in API group "" in the namespace "cicd"');
  });

  it("an unavailable API server is transient", async () => {
    server.expect({ method: "GET", path: CM, reply: { status: 503, body: { kind: "Status", code: 503, message: "etcdserver: leader changed" } } });
    await expect(store.read()).rejects.toBeInstanceOf(TransientError);
  });
});
