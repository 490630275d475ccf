import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startPushgateway } from "./env/pushgateway.ts";
import { e2eWorld, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

interface Event { metadata: { resourceVersion: string }; reason: string; type: string; message: string; involvedObject: { kind: string; name: string; uid?: string } }
const NEVER_READY = "image:\n  repository: x\n  tag: latest\nneverReady: true\n";

/** A webhook receiver on loopback that keeps what it was sent. */
async function webhookReceiver() {
  const received: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => { body += c.toString("utf8"); });
    req.on("end", () => {
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/ci-runner-secret-path-0123`;
  return { url, received, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("telling people what happened: Events, a webhook, the Pushgateway", () => {
  let world: World;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let pushgateway: Awaited<ReturnType<typeof startPushgateway>>;
  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    hook = await webhookReceiver();
    pushgateway = await startPushgateway();
  });
  afterAll(async () => {
    await world?.close();
    await hook?.close();
    await pushgateway?.close();
  });

  /** The Events about the app's state ConfigMap, in the order they were written (timestamps have whole seconds). */
  const eventsOf = async (app: string) => ((await world.get<{ items: Event[] }>(`/api/v1/namespaces/cicd/events?fieldSelector=involvedObject.name%3Dci-runner-${app}`))?.items ?? [])
    .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  const reporting = (extra: Record<string, string> = {}) => ({ KUBE_EVENTS: "true", WEBHOOK_URL: hook.url, PUSHGATEWAY_URL: pushgateway.url, ...extra });

  it("a deploy, then a chart that never becomes ready: Events tell the story, the webhook and the Pushgateway hear of it, status shows the evidence", async () => {
    const app = world.app("told");
    const good = app.commit();
    const first = await world.run(["sync", "--once"], app.env("helm4", reporting()));
    expect(first.code, first.stderr).toBe(0);
    const story = (await eventsOf(app.name)).map((e) => `${e.type} ${e.reason}`);
    expect(story).toEqual(["Normal BuildStarted", "Normal BuildSucceeded", "Normal DeployStarted", "Normal Deployed"]);
    const cm = await world.get<{ metadata: { uid: string } }>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`);
    expect((await eventsOf(app.name))[0]?.involvedObject).toMatchObject({ kind: "ConfigMap", name: `ci-runner-${app.name}`, uid: cm?.metadata.uid });
    expect(hook.received).toEqual([expect.objectContaining({ event: "deployed", repository: app.repo, release: app.name, namespace: app.name, sha: good, attempt: 1, revision: 1 })]);
    const afterDeploy = await pushgateway.metrics();
    expect(afterDeploy).toMatch(new RegExp(`ci_runner_last_outcome\\{[^}]*namespace="${app.name}",outcome="deployed",release="${app.name}"\\} 1`));
    expect(afterDeploy).toMatch(new RegExp(`ci_runner_deploy_duration_seconds\\{[^}]*release="${app.name}"\\} \\d`));
    expect(afterDeploy).toMatch(new RegExp(`ci_runner_build_duration_seconds\\{[^}]*release="${app.name}"\\} \\d`));

    const bad = app.commit({ "chart/values.yaml": NEVER_READY });
    const failed = await world.run(["sync", "--once"], app.env("helm4", reporting({ HELM_TIMEOUT: "12s", MAX_RETRIES: "1" })));
    expect(failed.code, failed.stderr).toBe(4);
    const reasons = (await eventsOf(app.name)).map((e) => e.reason);
    expect(reasons.slice(4)).toEqual(["BuildStarted", "BuildSucceeded", "DeployStarted", "RolledBack", "SetAside"]);
    const rolledBack = (await eventsOf(app.name)).find((e) => e.reason === "RolledBack");
    expect(rolledBack?.message).toMatch(/pod told-\S+: not started: Pending/);
    expect(hook.received[1]).toMatchObject({ event: "set-aside", sha: bad, phase: "deploy", rolledBack: true, evidence: { summary: expect.stringMatching(/^pod told-\S+: not started: Pending/) } });
    const status = JSON.parse((await world.run(["status", "-o", "json"], app.env("helm4"))).stdout);
    expect(status.lastError).toMatchObject({ sha: bad, message: expect.stringMatching(/failed and was rolled back: .*; pod told-\S+: not started: Pending/) });
    expect(await pushgateway.metrics()).toMatch(new RegExp(`ci_runner_set_aside\\{[^}]*release="${app.name}"\\} 1`));
    // The webhook URL is a secret: never in our logs.
    expect(first.stderr + failed.stderr).not.toContain("ci-runner-secret-path-0123");
  });

  it("dead receivers do not fail the pass: each is a warning and the commit is deployed", async () => {
    const app = world.app("unheard");
    const sha = app.commit();
    const run = await world.run(["sync", "--once"], app.env("helm4", { WEBHOOK_URL: "http://127.0.0.1:9/dead", PUSHGATEWAY_URL: "http://127.0.0.1:9" }));
    expect(run.code, run.stderr).toBe(0);
    expect((await world.get<{ metadata: { annotations: Record<string, string> } }>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`))?.metadata.annotations["ci-runner.dev/deployed-sha"]).toBe(sha);
    const warnings = run.logs.filter((l) => l.msg === "Could not report a transition; the pass goes on").map((l) => `${String(l.receiver)} ${String(l.transition)}`);
    expect(warnings).toEqual(expect.arrayContaining(["webhook deployed", "pushgateway build-succeeded", "pushgateway deployed"]));
  });
});
