import { beforeEach, describe, expect, it } from "vitest";
import { ConfigMapStateStore } from "../../../src/adapters/state/store.ts";
import { ConfigError, ConflictError, TransientError } from "../../../src/errors.ts";
import { PREFIX } from "../../../src/adapters/state/codec.ts";
import type { StaticAccess } from "../../../src/adapters/kube/kubeconfig.ts";
import { apis, forbidden } from "../../support/kube.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const CM = "/api/v1/namespaces/cicd/configmaps/ci-runner-shop";
const server = strictServerPerTest();
let store: ConfigMapStateStore;

beforeEach(() => {
  store = storeWith(undefined);
});

/** The store over the strict server: the Kubernetes client, and the fast read when `access` is given. */
function storeWith(access: StaticAccess | undefined): ConfigMapStateStore {
  return new ConfigMapStateStore({ namespace: "cicd", name: "ci-runner-shop", release: "shop", access, core: async () => apis(server.url).core, deadlineMs: 5_000 });
}

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

describe("the state's fast read, without the Kubernetes client", () => {
  const fast = () => storeWith({ server: server.url, token: "t0k3n", insecure: false });

  it("decodes the annotations and resourceVersion", async () => {
    server.expect({ method: "GET", path: CM, check: (r) => expect(r.headers.authorization).toBe("Bearer t0k3n"),
      reply: { status: 200, body: configMap("9", { [`${PREFIX}head-sha`]: SHA, [`${PREFIX}head-etag`]: "e" }) } });
    expect(await fast().read()).toEqual({ state: { head: { sha: SHA, etag: "e" } }, resourceVersion: "9", warnings: [] });
  });

  it("a missing ConfigMap is empty state", async () => {
    server.expect({ method: "GET", path: CM, reply: { status: 404, body: {} } });
    expect(await fast().read()).toEqual({ state: {}, resourceVersion: undefined, warnings: [] });
  });

  it("any other answer hands over to the Kubernetes client, which reports it properly", async () => {
    server.expect(
      { method: "GET", path: CM, check: (r) => expect(r.headers.authorization).toBe("Bearer t0k3n"), reply: forbidden("get", "configmaps", "cicd") },
      { method: "GET", path: CM, check: (r) => expect(r.headers.authorization).toBe("Bearer test-token"), reply: forbidden("get", "configmaps", "cicd") },
    );
    await expect(fast().read()).rejects.toThrow(/reading state configmap cicd\/ci-runner-shop: configmaps is forbidden/);
  });

  it("an unreachable API server hands over too", async () => {
    server.expect({ method: "GET", path: CM, reply: { status: 200, body: configMap("3", {}) } });
    const unreachable = new ConfigMapStateStore({ namespace: "cicd", name: "ci-runner-shop", release: "shop", access: { server: "http://127.0.0.1:1", insecure: false }, core: async () => apis(server.url).core, deadlineMs: 5_000 });
    expect((await unreachable.read()).resourceVersion).toBe("3");
  });
});
