import { describe, expect, it } from "vitest";
import { eventsFor, KubeEvents } from "../../../src/adapters/report/kube-events.ts";
import { allReporters } from "../../../src/adapters/report/fan-out.ts";
import { apis, forbidden } from "../../support/kube.ts";
import { testLog } from "../../support/pass-context.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const CM = "/api/v1/namespaces/cicd/configmaps/ci-runner-shop";
const EVENTS = "/api/v1/namespaces/cicd/events";
const NOW = new Date("2026-11-22T10:00:00Z");
const server = strictServerPerTest();

function receiver() {
  return new KubeEvents({ core: apis(server.url).core, namespace: "cicd", configMap: "ci-runner-shop", instance: "runner-abc/1", now: () => NOW });
}

describe("Kubernetes Events on the state ConfigMap", () => {
  it("a transition becomes an Event about the ConfigMap (its uid read once), with a CamelCase reason", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.expect(
      { method: "GET", path: CM, reply: { status: 200, body: { metadata: { name: "ci-runner-shop", namespace: "cicd", uid: "cm-uid-1" } } } },
      { method: "POST", path: EVENTS, check: (r) => void bodies.push(JSON.parse(r.body)), reply: { status: 201, body: {} } },
      { method: "POST", path: EVENTS, check: (r) => void bodies.push(JSON.parse(r.body)), reply: { status: 201, body: {} } },
    );
    const events = receiver();
    await events.report({ kind: "build-started", sha: SHA, attempt: 1, job: "build-shop-0123456789ab-1" });
    await events.report({ kind: "deployed", sha: SHA, attempt: 1, revision: 4, digest: undefined, seconds: 12.4 });
    expect(bodies[0]).toMatchObject({
      metadata: { generateName: "ci-runner-shop.", namespace: "cicd" },
      involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: "ci-runner-shop", namespace: "cicd", uid: "cm-uid-1" },
      type: "Normal", reason: "BuildStarted", message: "Building 0123456789ab (attempt 1) in Job build-shop-0123456789ab-1",
      source: { component: "ci-runner" }, reportingComponent: "ci-runner", reportingInstance: "runner-abc/1",
      firstTimestamp: NOW.toISOString(), lastTimestamp: NOW.toISOString(), count: 1,
    });
    expect(bodies[1]).toMatchObject({ type: "Normal", reason: "Deployed", message: "Deployed 0123456789ab as revision 4 in 12s" });
  });

  it("a forbidden create is thrown naming the resource; allReporters logs it and the pass goes on", async () => {
    server.expect(
      { method: "GET", path: CM, reply: { status: 200, body: { metadata: { uid: "u" } } } },
      { method: "POST", path: EVENTS, reply: forbidden("create", "events", "cicd") },
    );
    const lines: string[] = [];
    await allReporters([receiver()], testLog(lines)).report({ kind: "lease-contention", holder: "other/2", expiresAt: "2026-11-22T10:01:00Z" });
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "Could not report a transition; the pass goes on");
    expect(warning).toMatchObject({ level: "warn", receiver: "kubernetes-events", transition: "lease-contention" });
    expect(warning.error).toMatch(/recording Event LeaseContention on ConfigMap cicd\/ci-runner-shop: events is forbidden: .*cannot create resource "events"/);
  });
});

describe("the Events a transition becomes", () => {
  it.each([
    [{ kind: "build-succeeded", sha: SHA, attempt: 1, digest: "sha256:ab", seconds: 61 }, [["Normal", "BuildSucceeded"]]],
    [{ kind: "deploy-started", sha: SHA, attempt: 2, digest: undefined }, [["Normal", "DeployStarted"]]],
    [{ kind: "attempt-failed", sha: SHA, attempt: 1, phase: "build", message: "build pod exited with code 1", setAside: false, rolledBack: false }, [["Warning", "BuildFailed"]]],
    [{ kind: "attempt-failed", sha: SHA, attempt: 3, phase: "deploy", message: "chart missing", setAside: true, rolledBack: false }, [["Warning", "DeployFailed"], ["Warning", "SetAside"]]],
    [{ kind: "lease-contention", holder: "h/1", expiresAt: "t" }, [["Normal", "LeaseContention"]]],
  ] as const)("%o", (transition, expected) => {
    expect(eventsFor(transition).map((e) => [e.type, e.reason])).toEqual(expected);
  });

  it("a deploy failure that helm rolled back is RolledBack, with the evidence summary the message carries", () => {
    const [event] = eventsFor({ kind: "attempt-failed", sha: SHA, attempt: 1, phase: "deploy", message: "helm upgrade of shop failed and was rolled back: pod web-1: CrashLoopBackOff", setAside: false, rolledBack: true });
    expect(event).toEqual({ type: "Warning", reason: "RolledBack", message: "Attempt 1 of 0123456789ab failed: helm upgrade of shop failed and was rolled back: pod web-1: CrashLoopBackOff" });
  });

  it("a long message is cut below the API server's 1 KiB limit", () => {
    const [event] = eventsFor({ kind: "attempt-failed", sha: SHA, attempt: 1, phase: "build", message: "x".repeat(5000), setAside: false, rolledBack: false });
    expect(event?.message.length).toBeLessThanOrEqual(1000);
  });
});
