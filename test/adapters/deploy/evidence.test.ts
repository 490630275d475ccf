import { describe, expect, it } from "vitest";
import { gatherEvidence } from "../../../src/adapters/deploy/evidence.ts";
import { apis, forbidden } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const IMAGE = "registry.local/acme/shop:0123456789abcdef0123456789abcdef01234567";
/** The unfinished pods of the namespace, a page at a time. */
const PODS = "/api/v1/namespaces/shop/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&limit=100";
const server = strictServerPerTest();

function pod(name: string, image: string, status: Record<string, unknown>, ready = false) {
  return { metadata: { name }, spec: { containers: [{ name: "app", image }] }, status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }], ...status } };
}

const crashing = pod("shop-1", IMAGE, { containerStatuses: [{ name: "app", image: IMAGE, ready: false, restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" } }, lastState: { terminated: { exitCode: 3, reason: "Error" } } }] });
const events = { items: [
  { type: "Normal", reason: "Pulled", message: "ok", lastTimestamp: "2026-11-22T10:00:00Z" },
  { type: "Warning", reason: "BackOff", message: "Back-off restarting failed container app in pod shop-1", count: 4, lastTimestamp: "2026-11-22T10:01:00Z" },
] };
const eventsPath = `/api/v1/namespaces/shop/events?fieldSelector=${encodeURIComponent("involvedObject.kind=Pod,involvedObject.name=shop-1")}`;
const logPath = (previous: boolean) => `/api/v1/namespaces/shop/pods/shop-1/log?container=app&limitBytes=4096&previous=${previous}&tailLines=5`;

describe("rollback evidence", () => {
  it("a crash loop: the container's reasons, its Warning Events, and the last lines of its previous run", async () => {
    server.expect(
      { method: "GET", path: PODS, reply: { status: 200, body: { items: [pod("old-1", "registry.local/acme/shop:old", {}, true), crashing] } } },
      { method: "GET", path: eventsPath, reply: { status: 200, body: events } },
      { method: "GET", path: logPath(true), reply: { status: 200, body: "starting\nfatal: no DATABASE_URL\n" } },
    );
    const evidence = await gatherEvidence(apis(server.url).core, "shop", IMAGE, testLog());
    expect(evidence).toEqual({
      summary: 'pod shop-1: app: waiting CrashLoopBackOff, last exit code 3, 3 restarts; BackOff: Back-off restarting failed container app in pod shop-1 (x4); last log line: "fatal: no DATABASE_URL"',
      pods: [{ pod: "shop-1", containers: ["app: waiting CrashLoopBackOff, last exit code 3, 3 restarts"], events: ["BackOff: Back-off restarting failed container app in pod shop-1 (x4)"], logTail: ["starting", "fatal: no DATABASE_URL"] }],
    });
  });

  it("refused Events and logs are warned about once each, naming the resource; the pod's state is still kept", async () => {
    server.expect(
      { method: "GET", path: PODS, reply: { status: 200, body: { items: [crashing] } } },
      { method: "GET", path: eventsPath, reply: forbidden("list", "events", "shop") },
      { method: "GET", path: logPath(true), reply: { status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message: 'pods "shop-1" is forbidden: User "system:serviceaccount:cicd:deployer" cannot get resource "pods/log" in API group "" in the namespace "shop"' } } },
    );
    const lines: string[] = [];
    const evidence = await gatherEvidence(apis(server.url).core, "shop", IMAGE, testLog(lines));
    expect(evidence?.summary).toBe("pod shop-1: app: waiting CrashLoopBackOff, last exit code 3, 3 restarts");
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn").map((l) => l.error);
    expect(warnings).toEqual([
      expect.stringMatching(/Events of pod shop\/shop-1 .*cannot list resource "events"/),
      expect.stringMatching(/log of pod shop\/shop-1 .*cannot get resource "pods\/log"/),
    ]);
  });

  it("nothing failing among the new pods: no evidence", async () => {
    server.expect({ method: "GET", path: PODS, reply: { status: 200, body: { items: [pod("shop-2", IMAGE, {}, true)] } } });
    expect(await gatherEvidence(apis(server.url).core, "shop", IMAGE, testLog())).toBeUndefined();
  });
});

describe("rollback evidence of a pod that never started", () => {
  it("its log is asked for all the same: a 400 (nothing to read yet) is no warning, and the pod's phase is kept", async () => {
    const pending = { metadata: { name: "shop-1" }, spec: { containers: [{ name: "app", image: IMAGE }] }, status: { phase: "Pending" } };
    server.expect(
      { method: "GET", path: PODS, reply: { status: 200, body: { items: [pending] } } },
      { method: "GET", path: eventsPath, reply: { status: 200, body: { items: [] } } },
      { method: "GET", path: logPath(false), reply: { status: 400, body: { kind: "Status", code: 400, message: 'container "app" in pod "shop-1" is waiting to start: ContainerCreating' } } },
    );
    const lines: string[] = [];
    expect((await gatherEvidence(apis(server.url).core, "shop", IMAGE, testLog(lines)))?.summary).toBe("pod shop-1: not started: Pending");
    expect(lines.filter((l) => l.includes('"warn"'))).toEqual([]);
  });
});
