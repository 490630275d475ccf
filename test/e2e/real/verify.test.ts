import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { annotations, expectExit, pagesServed } from "../support/real-checks.ts";
import { realDockerfile } from "../support/app.ts";
import { e2eWorld, type HelmMajor, type World } from "../support/world.ts";

const real = inject("real");

/**
 * The chart's own smoke test, as `helm test` runs it: a Pod of the commit's image that checks what
 * the commit shipped. Its pods are Ready either way; only this check tells a good commit from a bad one.
 */
const SMOKE = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-smoke
  annotations:
    "helm.sh/hook": test
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  containers:
    - name: smoke
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
      command: ["sh", "-c", "echo checking /health; echo \\"health: $(cat /www/health)\\"; grep -qx ok /www/health"]
`;

/** What `ci-runner install` grants the deploy identity for such a chart with VERIFY=helm-test: the test Pods and their logs. */
function grantTestPods(world: World, namespace: string): void {
  const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ci-runner-deploy-tests, namespace: ${namespace}}
rules:
  - {apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]}
  - {apiGroups: [""], resources: ["pods/log"], verbs: ["get"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-runner-deploy-tests, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ci-runner-deploy-tests}
subjects: [{kind: ServiceAccount, name: ci-runner-deploy, namespace: ${namespace}}]
`;
  execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, "apply", "--server-side", "-f", "-"], { input: rbac, stdio: ["pipe", "ignore", "pipe"] });
}

describe.skipIf("skip" in real).each(["helm3", "helm4"] as const)("VERIFY=helm-test on the real node with %s", (helm: HelmMajor) => {
  let world: World;
  let base = "";
  beforeAll(async () => {
    if (!("info" in real)) return;
    world = await e2eWorld(real.info);
    base = real.info.real?.baseImage ?? "";
  });
  afterAll(async () => world?.close());

  const history = (name: string) => (JSON.parse(world.helm(helm, "history", name, "-n", name, "-o", "json")) as { revision: number; status: string; description: string }[]);

  it("a commit whose pods are Ready but whose helm test fails is rolled back to the last verified commit and set aside, a pod answering throughout", async () => {
    const app = world.app(`verify-${helm}`);
    grantTestPods(world, app.namespace);
    const env = app.env(helm, { VERIFY: "helm-test" });

    const good = app.commit({ Dockerfile: realDockerfile(base, "RUN echo ok > /www/health\n"), "chart/templates/smoke.yaml": SMOKE });
    const first = await world.run(["sync", "--once"], env);
    writeFileSync(join(world.root, `sync-${app.name}-1.log`), first.stderr);
    expectExit(first, 0);
    const at = (run: typeof first, msg: string) => Date.parse(String(run.logs.find((l) => l.msg === msg)?.time));
    const verifySeconds = (at(first, "Verified release and recorded it") - at(first, "Verifying release: helm test")) / 1000;
    expect((await annotations(world, app.name))["ci-runner.dev/verified-sha"]).toBe(good);

    const bad = app.commit({ Dockerfile: realDockerfile(base, "RUN echo broken > /www/health\n") });
    const started = Date.now();
    const syncing = world.run(["sync", "--once"], env);
    let finished = false;
    void syncing.then(() => { finished = true; });
    const served = new Set<string>();
    let silent = 0;
    while (!finished) {
      const pages = await pagesServed(world, app.namespace, app.release);
      if (pages.length === 0) silent++;
      for (const page of pages) served.add(page);
      await new Promise((r) => setTimeout(r, 500));
    }
    const second = await syncing;
    writeFileSync(join(world.root, `sync-${app.name}-2.log`), second.stderr);
    const failedSeconds = (Date.now() - started) / 1000;
    expectExit(second, 4);
    console.log(`${helm}: helm test of a good commit ${verifySeconds.toFixed(1)}s; bad commit built, deployed, tested and rolled back in ${failedSeconds.toFixed(1)}s`);

    // The bad commit's pods were Ready (they served it); the rollback brought back the verified one.
    expect([...served].sort()).toEqual([good, bad].sort());
    expect(silent, "polls with no Ready pod answering").toBe(0);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([good]);
    const state = await annotations(world, app.name);
    expect(state).toMatchObject({ "ci-runner.dev/deployed-sha": good, "ci-runner.dev/verified-sha": good, "ci-runner.dev/set-aside-sha": bad });
    expect(state["ci-runner.dev/set-aside-reason"]).toMatch(new RegExp(`^checks failed: helm test of ${app.release} failed: .*${app.release}-smoke( \\(smoke\\))?: "checking /health / health: broken"`));
    expect(state["ci-runner.dev/verifying-sha"]).toBeUndefined();
    const revisions = history(app.name);
    expect(revisions.map((r) => r.status)).toEqual(["superseded", "superseded", "deployed"]);
    expect(revisions.at(-1)?.description).toBe("Rollback to 1");

    // The next tick leaves the set-aside commit alone: no build, no helm.
    const idle = await world.run(["sync", "--once"], env);
    expectExit(idle, 4);
    expect(idle.logs.map((l) => l.msg)).not.toContain("Verifying release: helm test");
    const status = JSON.parse((await world.run(["status", "-o", "json"], env)).stdout) as { verification: { verified: { sha: string } | null; checks: string[] } };
    expect(status.verification).toMatchObject({ checks: ["helm-test"], verified: { sha: good } });

    // SIGKILL in the middle of the next rollback (its release record written, helm not done): the
    // release is left pending-rollback. Once that is older than HELM_TIMEOUT (+30 s), a tick
    // repairs it and finishes the rollback to the verified commit.
    const quick = app.env(helm, { VERIFY: "helm-test", HELM_TIMEOUT: "15s" });
    const worse = app.commit({ Dockerfile: realDockerfile(base, "RUN echo broken again > /www/health\n") });
    // After helm test read its pod's log, the next release record created (not our dry run of
    // one, asking whether helm may) is the rollback's; the request after it is held and the run killed.
    let stage: "testing" | "tested" | "rolling-back" = "testing";
    const killed = await world.run(["sync", "--once"], quick, {
      killOn: (r) => {
        if (stage === "rolling-back") return true;
        if (stage === "testing" && r.method === "GET" && r.path.includes(`/pods/${app.release}-smoke/log`)) stage = "tested";
        else if (stage === "tested" && r.method === "POST" && /\/namespaces\/[^/]+\/secrets(\?|$)/.test(r.path) && !r.path.includes("dryRun")) stage = "rolling-back";
        return false;
      },
    });
    writeFileSync(join(world.root, `sync-${app.name}-3.log`), killed.stderr);
    expect(killed.killed, killed.stderr).toBe(true);
    const killedAt = Date.now();
    const repairedAfter = (ms: number) => `${helm}: a SIGKILL mid-rollback, repaired and rolled back to the verified commit ${(ms / 1000).toFixed(1)}s after the kill (HELM_TIMEOUT 15s + 30s must pass first)`;
    expect(history(app.name).at(-1)?.status).toBe("pending-rollback");
    expect((await annotations(world, app.name))["ci-runner.dev/verifying-sha"]).toBe(worse);
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 48_000 - Date.now())));
    const repaired = await world.run(["sync", "--once"], quick);
    writeFileSync(join(world.root, `sync-${app.name}-4.log`), repaired.stderr);
    expectExit(repaired, 4);
    console.log(repairedAfter(Date.now() - killedAt));
    expect(repaired.logs.map((l) => l.msg)).toContain("Repairing release left mid-operation by a killed helm");
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([good]);
    const after = await annotations(world, app.name);
    expect(after).toMatchObject({ "ci-runner.dev/deployed-sha": good, "ci-runner.dev/verified-sha": good, "ci-runner.dev/set-aside-sha": worse });
    expect(after["ci-runner.dev/verifying-sha"]).toBeUndefined();
    expect(history(app.name).at(-1)).toMatchObject({ status: "deployed" });
  });
});
