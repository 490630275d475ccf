import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { realDeployment } from "../support/app.ts";
import { e2eWorld, type World } from "../support/world.ts";

const real = inject("real");
const skip = "skip" in real ? real.skip : undefined;


// The probe keeps the pod from counting as Ready in the moment between the container's start and
// its exit: without one, a loaded node can report it Ready and helm's wait is satisfied at once.
const CRASHES = `          command: ["sh", "-c", "echo starting; echo 'fatal: no DATABASE_URL'; exit 3"]
          readinessProbe:
            exec: {command: ["true"]}
            periodSeconds: 1
`;
const NEVER_READY = `          ports: [{containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /, port: 8081}
            periodSeconds: 1
`;

// A skipped run says why: not root, or a Debian package is missing (never with CI=true).
describe.skipIf(skip !== undefined)("rollback evidence on a real node (helm 4)", () => {
  let world: World;
  beforeAll(async () => {
    if ("info" in real) world = await e2eWorld(real.info);
  });
  afterAll(async () => world?.close());

  async function lastError(app: ReturnType<World["app"]>, env: Record<string, string>) {
    const status = await world.run(["status", "-o", "json"], env);
    return (JSON.parse(status.stdout) as { lastError?: { message: string } }).lastError?.message ?? "";
  }

  it("a container that crashes: the attempt ends early, and status names CrashLoopBackOff, the exit code and the container's last line", async () => {
    const app = world.app("crashes");
    app.commit({ "chart/templates/deployment.yaml": realDeployment(CRASHES) });
    const env = app.env("helm4", { HELM_TIMEOUT: "240s", KUBE_EVENTS: "true" });
    const sync = await world.run(["sync", "--once"], env);
    writeFileSync(join(world.root, `sync-${app.name}.log`), sync.stderr);
    expect(sync.code, sync.stderr).toBe(3);
    const message = await lastError(app, env);
    expect(message).toMatch(/^helm upgrade of crashes was ended early and rolled back: container app of pod crashes-\S+ keeps crashing \(CrashLoopBackOff, exit code 3, \d+ restarts?\)/);
    expect(message).toContain('last log line: "fatal: no DATABASE_URL"');
    const events = await world.get<{ items: { reason: string; message: string }[] }>(`/api/v1/namespaces/cicd/events?fieldSelector=involvedObject.name%3Dci-runner-${app.name}`);
    expect(events?.items.find((e) => e.reason === "RolledBack")?.message).toContain("fatal: no DATABASE_URL");
  });

  it("a readiness probe that never passes: read shortly before HELM_TIMEOUT, status names the failed probe", async () => {
    const app = world.app("unready");
    app.commit({ "chart/templates/deployment.yaml": realDeployment(NEVER_READY) });
    const env = app.env("helm4", { HELM_TIMEOUT: "40s" });
    const sync = await world.run(["sync", "--once"], env);
    writeFileSync(join(world.root, `sync-${app.name}.log`), sync.stderr);
    expect(sync.code, sync.stderr).toBe(3);
    const message = await lastError(app, env);
    expect(message).toMatch(/^helm upgrade of unready failed and was rolled back: .*; pod unready-\S+: app: running, not ready; Unhealthy: Readiness probe failed: .*8081.*connection refused/);
  });
});
