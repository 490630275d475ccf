import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createExec } from "../../../src/adapters/exec.ts";
import { HelmReleases, type HelmOptions } from "../../../src/adapters/deploy/helm.ts";
import { AttemptFailure, ConfigError, LeaseLost, TransientError } from "../../../src/errors.ts";
import { Secrets } from "../../../src/log.ts";
import { childEnv } from "../../../src/wiring/child-env.ts";
import { FAKE_TOOL, fakeTool, type ToolStep } from "../../support/fake-helm.ts";
import { testLog } from "../../support/pass-context.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const ACT_AS = "system:serviceaccount:shop-dev:ci-runner-deploy";
const TARGET = ["--namespace", "shop-dev", "--kube-as-user", ACT_AS];
const v3 = { argv: ["version", "--template", "{{.Version}}"], stdout: "v3.17.3" };
const v4 = { argv: ["version", "--template", "{{.Version}}"], stdout: "v4.2.4" };
const OPEN = new AbortController().signal;

function helm(steps: ToolStep[], extra: { kubeconfig?: string; context?: string; watchRollout?: (image: string, stop: AbortSignal) => Promise<string | undefined> } & Partial<Pick<HelmOptions, "gatherEvidence" | "clusterProblems" | "timeoutSeconds" | "wait" | "checkTree">> = {}) {
  const tool = fakeTool(steps);
  const env = childEnv({ ...process.env, GIT_TOKEN: "tkn_must_not_leak_123" } as Record<string, string>);
  const secrets = new Secrets();
  secrets.add("tkn_must_not_leak_123");
  const releases = new HelmReleases({
    bin: FAKE_TOOL, release: "shop", namespace: "shop-dev", image: "registry.local:5000/acme/shop",
    imageRepositoryKey: "image.repository", imageTagKey: "image.tag", timeoutSeconds: extra.timeoutSeconds ?? 120, wait: extra.wait ?? "watcher", serviceTypes: ["ClusterIP"], fencedGraceMs: 5_000, actAs: ACT_AS,
    kubeconfig: extra.kubeconfig, context: extra.context, exec: createExec({ ...env, ...tool.env }, secrets), log: testLog(),
    ...(extra.watchRollout ? { watchRollout: extra.watchRollout } : {}),
    ...(extra.gatherEvidence ? { gatherEvidence: extra.gatherEvidence } : {}),
    ...(extra.clusterProblems ? { clusterProblems: extra.clusterProblems } : {}),
    ...(extra.checkTree ? { checkTree: extra.checkTree } : {}),
  });
  return { releases, tool };
}

/** `helm template`, as deploy runs it before the upgrade; `stdout` is what the chart renders. */
function rendered(chartDir: string, values: string[] = [], stdout = "") {
  return { argv: ["template", "shop", chartDir, "--namespace", "shop-dev", ...values, "--set-string", "image.repository=registry.local:5000/acme/shop", "--set-string", `image.tag=${SHA}`], stdout };
}

function upgradeArgv(major: 3 | 4, chartDir: string, extra: string[] = [], wait = "watcher", timeout = 120) {
  return ["upgrade", "--install", "shop", chartDir, ...TARGET.slice(0, 2), ...extra, ...TARGET.slice(2),
    ...(major === 4 ? ["--rollback-on-failure", `--wait=${wait}`] : ["--atomic", "--wait"]),
    "--timeout", `${timeout}s`, "--history-max", "10",
    "--set-string", "image.repository=registry.local:5000/acme/shop", "--set-string", `image.tag=${SHA}`, "--output", "json"];
}

/** Resolves once the fake helm has been asked to upgrade: the moment a test may interrupt it. */
async function upgradeRunning(tool: { calls(): { argv: string[] }[] }): Promise<void> {
  while (!tool.calls().some((c) => c.argv[0] === "upgrade")) await new Promise((r) => setTimeout(r, 10));
}

describe("helm adapter", () => {
  it.each([[3, v3], [4, v4]] as const)("deploys with the atomic flags of Helm %i and the immutable SHA tag", async (major, version) => {
    const { releases, tool } = helm([rendered("/nonexistent/chart"), version, { argv: upgradeArgv(major, "/nonexistent/chart"), stdout: JSON.stringify({ version: 7, info: { status: "deployed" } }) }]);
    expect(await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/nonexistent/chart", valuesFiles: [] }, OPEN)).toEqual({ revision: 7 });
    expect(tool.calls().every((c) => !c.envKeys.includes("GIT_TOKEN"))).toBe(true);
    tool.verify();
  });

  it("HELM_WAIT=legacy gives Helm 4 its legacy waiter; a watcher that waited out HELM_TIMEOUT says what to try, a legacy one does not", async () => {
    const legacy = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c", [], "legacy"), stdout: "{}" }], { wait: "legacy" });
    await legacy.releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN);
    legacy.tool.verify();
    const stderr = "Error: UPGRADE FAILED: resource Widget/w not ready. status: InProgress, message: ...: context deadline exceeded\n";
    for (const wait of ["watcher", "legacy"] as const) {
      const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c", [], wait, 1), afterMs: 1_100, stderr, exit: 1 }], { wait, timeoutSeconds: 1 });
      const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttemptFailure);
      if (wait === "watcher") expect((error as Error).message).toMatch(/it waited all of HELM_TIMEOUT: if the chart has custom resources whose status Helm's watcher cannot read, set HELM_WAIT=legacy$/);
      else expect((error as Error).message).not.toContain("HELM_WAIT");
      tool.verify();
    }
  });

  it("a helm that crashes (the Go runtime's exit 2: out of its memory limit, or a panic) fails the commit's attempt, naming the limit", async () => {
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), stderr: "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw(...)\n", exit: 2 }], {
      clusterProblems: async () => [],
    });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe("helm upgrade of shop crashed (exit 2): fatal error: runtime: out of memory; it ran out of its memory, or the chart made it panic");
    tool.verify();
  });

  it("a chart that renders what it may not (a forged release record) is refused before anything is applied, as the commit's failure", async () => {
    const forged = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sh.helm.release.v1.shop.v999\n  labels: {owner: helm, status: pending-upgrade}\ntype: helm.sh/release.v1\n";
    const { releases, tool } = helm([rendered("/c", [], forged)]);
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe("the chart of shop is refused: Secret sh.helm.release.v1.shop.v999 poses as a Helm release record (type helm.sh/release.v1)");
    expect(tool.calls().map((c) => c.argv[0])).toEqual(["template"]);
    tool.verify();
  });

  it("builds chart dependencies first when the chart declares them", async () => {
    const chart = mkdtempSync(join(tmpdir(), "chart-"));
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: file://vendor/redis\n  - name: db\n    repository: oci://registry.example/charts\n");
    const { releases, tool } = helm([{ argv: ["dependency", "build", chart], stdout: "Saving 1 charts" }, rendered(chart), v4, { argv: upgradeArgv(4, chart), stdout: "{}" }]);
    await releases.deploy({ sha: SHA, headSha: SHA, chartDir: chart, valuesFiles: [] }, OPEN);
    tool.verify();
  });

  it.each([
    ["a plain-http repository (a blind request from the runner's pod)", "http://10.96.0.1:8080/charts", "dependency redis comes from http://10.96.0.1:8080/charts: only https://, oci:// or a folder inside the chart"],
    ["a file:// outside the chart (it would package what it points at)", "file://../../../etc", "dependency redis is file://../../../etc, outside the chart"],
  ])("refuses %s before helm fetches anything", async (_what, repository, problem) => {
    const chart = mkdtempSync(join(tmpdir(), "chart-"));
    writeFileSync(join(chart, "Chart.yaml"), `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: redis\n    repository: ${repository}\n`);
    const { releases, tool } = helm([]);
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: chart, valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe(`the chart's dependencies are refused: ${problem}`);
    tool.verify();
  });

  it("what the dependency build brought in is checked like the checkout", async () => {
    const chart = mkdtempSync(join(tmpdir(), "chart-"));
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: big\n    repository: https://charts.example\n");
    const { releases, tool } = helm([{ argv: ["dependency", "build", chart], stdout: "Saving 1 charts" }], { checkTree: async () => "charts/big-1.0.0.tgz has 9000000 bytes, more than the 5242880 Helm allows a file" });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: chart, valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect((error as Error).message).toBe("the chart's dependencies are refused: charts/big-1.0.0.tgz has 9000000 bytes, more than the 5242880 Helm allows a file");
    tool.verify();
  });

  it("passes kubeconfig, context and values files", async () => {
    const argv = [...upgradeArgv(3, "/c")];
    argv.splice(6, 0, "--kubeconfig", "/k", "--kube-context", "dev");
    argv.splice(argv.indexOf("--set-string"), 0, "--values", "/repo/values-dev.yaml");
    const { releases, tool } = helm([rendered("/c", ["--values", "/repo/values-dev.yaml"]), v3, { argv, stdout: "{}" }], { kubeconfig: "/k", context: "dev" });
    expect(await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: ["/repo/values-dev.yaml"] }, OPEN)).toEqual({ revision: undefined });
    tool.verify();
  });

  it("a KUBECONFIG list goes to helm as its KUBECONFIG variable (its flag takes one file)", async () => {
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), stdout: "{}" }], { kubeconfig: "/a:/b" });
    await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN);
    expect(tool.calls()[1]?.envKeys).toContain("KUBECONFIG");
    expect(tool.calls()[1]?.argv).not.toContain("--kubeconfig");
    tool.verify();
  });

  it("a failed upgrade is a failed attempt with a short summary, secrets scrubbed", async () => {
    const stderr = "walk.go:75: found symbolic link\nError: UPGRADE FAILED: release shop failed, and has been rolled back due to atomic being set: context deadline exceeded (token tkn_must_not_leak_123)\n";
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), stderr, exit: 1 }]);
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe("helm upgrade of shop failed and was rolled back: Error: UPGRADE FAILED: release shop failed, and has been rolled back due to atomic being set: context deadline exceeded (token [REDACTED])");
    tool.verify();
  });

  it("new pods that crash-loop end the attempt early: helm gets SIGTERM (it rolls back) and the error names the crash", async () => {
    const crash = "container app of pod shop-7d-x keeps crashing (CrashLoopBackOff, exit code 3, 2 restarts)";
    const watched: string[] = [];
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), untilTerm: true, stderr: "Release shop has been cancelled.\nError: UPGRADE FAILED: context canceled\n", exit: 1 }], {
      watchRollout: async (image) => {
        watched.push(image);
        await upgradeRunning(tool); // not a timer: on a loaded machine helm may start late
        return crash;
      },
    });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe(`helm upgrade of shop was ended early and rolled back: ${crash}`);
    expect(watched).toEqual([`registry.local:5000/acme/shop:${SHA}`]);
    expect(tool.calls().map((c) => c.argv[0])).toEqual(["template", "version", "upgrade", "<SIGTERM>"]);
    tool.verify();
  });

  it("the fence stops helm (SIGTERM) and the deploy ends as LeaseLost, not as the commit's failure", async () => {
    const fence = new AbortController();
    const lost = new LeaseLost("lease lost", "next tick");
    const { releases, tool } = helm([rendered("/c"), v3, { argv: upgradeArgv(3, "/c"), untilTerm: true, stderr: "Error: UPGRADE FAILED: context canceled\n", exit: 1 }], {
      watchRollout: (_image, stop) => new Promise((resolve) => stop.addEventListener("abort", () => resolve(undefined))),
    });
    void upgradeRunning(tool).then(() => fence.abort(lost));
    await expect(releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, fence.signal)).rejects.toBe(lost);
    expect(tool.calls().map((c) => c.argv[0])).toEqual(["template", "version", "upgrade", "<SIGTERM>"]);
    tool.verify();
  });

  it("an unreachable cluster is transient, not the commit's fault: our own question to the API server says so", async () => {
    const unreachable = new TransientError("asking the API server for our permissions (SelfSubjectAccessReview): cannot reach the Kubernetes API (connect ECONNREFUSED)");
    const { releases, tool } = helm([rendered("/c"), v3, { argv: upgradeArgv(3, "/c"), stderr: "Error: Kubernetes cluster unreachable: dial tcp 127.0.0.1:6443: connect: connection refused\n", exit: 1 }], {
      clusterProblems: async () => { throw unreachable; },
    });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).not.toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toContain("the API server did not answer our check");
    tool.verify();
  });

  it("\"forbidden\" in helm's output is the commit's failure when we lack no permission (a quota or a policy refused the chart's own object)", async () => {
    const stderr = 'Error: UPGRADE FAILED: failed to create resource: pods "x" is forbidden: exceeded quota: app-quota, requested: limits.memory=8Gi\n';
    const asked: string[] = [];
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), stderr, exit: 1 }], { clusterProblems: async () => { asked.push("asked"); return []; } });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toContain("exceeded quota");
    expect(asked).toEqual(["asked"]);
    tool.verify();
  });

  it("a permission we lack is a config error naming it, whatever helm printed", async () => {
    const { releases, tool } = helm([rendered("/c"), v4, { argv: upgradeArgv(4, "/c"), stderr: "Error: UPGRADE FAILED: resource mapping not found\n", exit: 1 }], {
      clusterProblems: async () => [`${ACT_AS} cannot create ingresses.networking.k8s.io in namespace shop-dev`],
    });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`helm upgrade for shop-dev/shop failed (Error: UPGRADE FAILED: resource mapping not found): ${ACT_AS} cannot create ingresses.networking.k8s.io in namespace shop-dev`);
    tool.verify();
  });

  it.each([[3, v3, ["--all"]], [4, v4, []]] as const)("observes an absent release by listing it, not by reading helm's words (Helm %i)", async (_m, version, all) => {
    const { releases, tool } = helm([
      { argv: ["status", "shop", ...TARGET, "-o", "json"], stderr: "Error: release: not found\n", exit: 1 },
      version,
      { argv: ["list", ...TARGET, ...all, "--filter", "^shop$", "-o", "json"], stdout: "[]" },
    ]);
    expect(await releases.observe()).toEqual({ status: "absent" });
    tool.verify();
  });

  it("helm test runs the chart's test hooks with their logs; a failed hook is the commit's failure, named with the pod's last log lines", async () => {
    const argv = ["test", "shop", ...TARGET, "--logs", "--timeout", "120s"];
    const passed = helm([{ argv }]);
    await passed.releases.test(OPEN);
    passed.tool.verify();
    const stdout = "NAME: shop\nSTATUS: deployed\nTEST SUITE:     shop-smoke\nPhase:          Failed\n\nPOD LOGS: shop-smoke\nGET / 200\nGET /healthz 500\n";
    const failed = helm([{ argv, stdout, stderr: "Error: 1 error occurred:\n\t* pod shop-smoke failed\n", exit: 1 }]);
    const error = await failed.releases.test(OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe('helm test of shop failed: Error: 1 error occurred: | * pod shop-smoke failed; shop-smoke: "GET / 200 / GET /healthz 500"');
    failed.tool.verify();
  });

  it("a helm test refused for a right the deploy identity lacks is a config error, not the commit's failure", async () => {
    const { releases, tool } = helm([{ argv: ["test", "shop", ...TARGET, "--logs", "--timeout", "120s"], stderr: "Error: pods \"shop-smoke\" is forbidden\n", exit: 1 }],
      { clusterProblems: async () => [`${ACT_AS} cannot get pods/log in namespace shop-dev`] });
    const error = await releases.test(OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("cannot get pods/log in namespace shop-dev");
    tool.verify();
  });

  it.each([[3, v3, ["--wait"]], [4, v4, ["--wait=watcher"]]] as const)("rolls back to one revision with Helm %i's wait", async (_major, version, wait) => {
    const { releases, tool } = helm([version, { argv: ["rollback", "shop", "3", ...TARGET, ...wait, "--timeout", "120s", "--history-max", "10"] }]);
    await releases.rollback(3, OPEN);
    tool.verify();
    const gone = helm([version, { argv: ["rollback", "shop", "3", ...TARGET, ...wait, "--timeout", "120s", "--history-max", "10"], stderr: "Error: release: not found\n", exit: 1 }]);
    await expect(gone.releases.rollback(3, OPEN)).rejects.toThrow(new AttemptFailure("helm rollback of shop to revision 3 failed: Error: release: not found"));
  });

  it("observes a deployed release and its image tag", async () => {
    const { releases, tool } = helm([
      { argv: ["status", "shop", ...TARGET, "-o", "json"], stdout: JSON.stringify({ name: "shop", version: 3, info: { status: "deployed", last_deployed: "2026-11-21T12:00:00Z" } }) },
      { argv: ["get", "values", "shop", ...TARGET, "-o", "json"], stdout: JSON.stringify({ image: { repository: "r", tag: SHA } }) },
    ]);
    expect(await releases.observe()).toEqual({ status: "deployed", revision: 3, updatedAt: "2026-11-21T12:00:00Z", imageTag: SHA });
    tool.verify();
  });

  it("observes a release stuck in pending-upgrade without asking for values", async () => {
    const { releases, tool } = helm([{ argv: ["status", "shop", ...TARGET, "-o", "json"], stdout: JSON.stringify({ version: 4, info: { status: "pending-upgrade" } }) }]);
    expect(await releases.observe()).toMatchObject({ status: "pending-upgrade", revision: 4 });
    tool.verify();
  });

  it.each([[3, v3, ["--wait"]], [4, v4, ["--wait=watcher"]]] as const)("repairs pending-upgrade by rolling back (Helm %i)", async (_m, version, wait) => {
    const { releases, tool } = helm([version, { argv: ["rollback", "shop", ...TARGET, ...wait, "--timeout", "120s"], stdout: "Rollback was a success!" }]);
    await releases.repair({ status: "pending-upgrade", revision: 4 }, OPEN);
    tool.verify();
  });

  it("repairs pending-install by uninstalling the stuck release", async () => {
    const { releases, tool } = helm([{ argv: ["uninstall", "shop", ...TARGET] }]);
    await releases.repair({ status: "pending-install", revision: 1 }, OPEN);
    tool.verify();
  });

  it("a forbidden read is a config error naming the permission the API server says we lack", async () => {
    const stderr = 'Error: query: failed to query with labels: secrets is forbidden: User "system:serviceaccount:cicd:deployer" cannot list resource "secrets" in API group "" in the namespace "shop-dev"\n';
    const { releases, tool } = helm([
      { argv: ["status", "shop", ...TARGET, "-o", "json"], stderr, exit: 1 },
      v4,
      { argv: ["list", ...TARGET, "--filter", "^shop$", "-o", "json"], stderr, exit: 1 },
    ], { clusterProblems: async () => [`${ACT_AS} cannot list secrets in namespace shop-dev`] });
    const error = await releases.observe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^helm reading release status for shop-dev\/shop failed \(.*\): system:serviceaccount:shop-dev:ci-runner-deploy cannot list secrets in namespace shop-dev$/);
    tool.verify();
  });

  it("refuses an unsupported helm", async () => {
    const { releases, tool } = helm([{ argv: v3.argv, stdout: "v2.17.0" }]);
    await expect(releases.major()).rejects.toThrow(/not supported/);
    tool.verify();
  });

  it("a missing helm binary is a config error", async () => {
    const releases = new HelmReleases({
      bin: "/nonexistent/helm", release: "shop", namespace: "shop-dev", image: "r/x", imageRepositoryKey: "image.repository", imageTagKey: "image.tag",
      timeoutSeconds: 60, wait: "watcher", serviceTypes: ["ClusterIP"], fencedGraceMs: 5_000, actAs: ACT_AS, kubeconfig: undefined, context: undefined, exec: createExec({ PATH: "/usr/bin" }, new Secrets()), log: testLog(),
    });
    await expect(releases.major()).rejects.toThrow(/cannot run helm/);
  });
});
