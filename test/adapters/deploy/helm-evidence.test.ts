import { describe, expect, it } from "vitest";
import { createExec } from "../../../src/adapters/exec.ts";
import { evidenceDelayMs, HelmReleases } from "../../../src/adapters/deploy/helm.ts";
import { AttemptFailure } from "../../../src/errors.ts";
import type { Evidence } from "../../../src/reconcile/types.ts";
import { Secrets } from "../../../src/log.ts";
import { childEnv } from "../../../src/wiring/child-env.ts";
import { FAKE_TOOL, fakeTool, type ToolStep } from "../../support/fake-helm.ts";
import { testLog } from "../../support/pass-context.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const HEAD = "fedcba9876543210fedcba9876543210fedcba98";
const IMAGE = `registry.local:5000/acme/shop:${SHA}`;
const v4 = { argv: ["version", "--template", "{{.Version}}"], stdout: "v4.2.4" };
const OPEN = new AbortController().signal;
/** `helm template`, as deploy runs it before the upgrade. */
const RENDERED = { argv: ["template", "shop", "/c", "--namespace", "shop-dev", "--set-string", "image.repository=registry.local:5000/acme/shop", "--set-string", `image.tag=${SHA}`], stdout: "" };
const CRASH: Evidence = {
  summary: 'pod shop-1: app: waiting CrashLoopBackOff, last exit code 3, 2 restarts; BackOff: Back-off restarting failed container app (x4); last log line: "fatal: no DATABASE_URL"',
  pods: [{ pod: "shop-1", containers: ["app: waiting CrashLoopBackOff, last exit code 3, 2 restarts"], events: ["BackOff: Back-off restarting failed container app (x4)"], logTail: ["starting", "fatal: no DATABASE_URL"] }],
};
const NOT_READY: Evidence = {
  summary: "pod shop-1: app: running, not ready; Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x9)",
  pods: [{ pod: "shop-1", containers: ["app: running, not ready"], events: ["Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x9)"], logTail: [] }],
};

function upgradeArgv(timeout: number) {
  return ["upgrade", "--install", "shop", "/c", "--namespace", "shop-dev", "--kube-as-user", "system:serviceaccount:shop-dev:ci-runner-deploy", "--rollback-on-failure", "--wait=watcher",
    "--timeout", `${timeout}s`, "--history-max", "10", "--set-string", "image.repository=registry.local:5000/acme/shop", "--set-string", `image.tag=${SHA}`, "--output", "json"];
}

function helm(steps: ToolStep[], timeoutSeconds: number, extra: { watchRollout?: (image: string, stop: AbortSignal) => Promise<string | undefined>; gatherEvidence: (image: string) => Promise<Evidence | undefined> }) {
  const tool = fakeTool(steps);
  const releases = new HelmReleases({
    bin: FAKE_TOOL, release: "shop", namespace: "shop-dev", image: "registry.local:5000/acme/shop", imageRepositoryKey: "image.repository", imageTagKey: "image.tag",
    timeoutSeconds, wait: "watcher", serviceTypes: ["ClusterIP"], fencedGraceMs: 5_000, actAs: "system:serviceaccount:shop-dev:ci-runner-deploy", kubeconfig: undefined, context: undefined, exec: createExec({ ...childEnv(process.env as Record<string, string>), ...tool.env }, new Secrets()), log: testLog(),
    ...extra,
  });
  return { releases, tool };
}

describe("rollback evidence, kept before helm's rollback erases it", () => {
  it("a crash loop: gathered at the early end, before helm is stopped; the error adds the Event and the last log line", async () => {
    const order: string[] = [];
    const { releases, tool } = helm([RENDERED, v4, { argv: upgradeArgv(120), untilTerm: true, stderr: "Error: UPGRADE FAILED: context canceled\n", exit: 1 }], 120, {
      watchRollout: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return "container app of pod shop-1 keeps crashing (CrashLoopBackOff, exit code 3, 2 restarts)";
      },
      gatherEvidence: async (image) => {
        expect(image).toBe(IMAGE);
        order.push(`gathered while helm ran: ${tool.calls().map((c) => c.argv[0]).join(",")}`);
        return CRASH;
      },
    });
    // A chart-only change: the image is an earlier commit's; the news belongs to the head.
    const error = await releases.deploy({ sha: SHA, headSha: HEAD, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toBe("helm upgrade of shop was ended early and rolled back: container app of pod shop-1 keeps crashing (CrashLoopBackOff, exit code 3, 2 restarts); "
      + 'BackOff: Back-off restarting failed container app (x4); last log line: "fatal: no DATABASE_URL"');
    expect(order).toEqual(["gathered while helm ran: template,version,upgrade"]);
    expect((error as AttemptFailure).details).toEqual({ rolledBack: true, evidence: CRASH });
    tool.verify();
  });

  it("a probe that never passes: gathered shortly before HELM_TIMEOUT, named in the error after helm rolled back", async () => {
    const timeout = 3;
    let gatheredAt = 0;
    const started = Date.now();
    const { releases, tool } = helm([RENDERED, v4, { argv: upgradeArgv(timeout), afterMs: 2500, stderr: "Error: UPGRADE FAILED: release shop failed, and has been rolled back due to rollback-on-failure being set: context deadline exceeded\n", exit: 1 }], timeout, {
      gatherEvidence: async () => {
        gatheredAt = Date.now() - started;
        return NOT_READY;
      },
    });
    const error = await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^helm upgrade of shop failed and was rolled back: Error: UPGRADE FAILED: .*context deadline exceeded; pod shop-1: app: running, not ready; Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 \(x9\)$/);
    expect(gatheredAt).toBeGreaterThanOrEqual(evidenceDelayMs(timeout) - 50);
    expect(gatheredAt).toBeLessThan(2500);
    expect((error as AttemptFailure).details).toEqual({ rolledBack: true, evidence: NOT_READY });
    tool.verify();
  });

  it("a deploy that succeeds before the timer gathers nothing", async () => {
    let gathered = 0;
    const { releases, tool } = helm([RENDERED, v4, { argv: upgradeArgv(120), stdout: '{"version": 3}' }], 120, {
      gatherEvidence: async () => void gathered++,
    });
    expect(await releases.deploy({ sha: SHA, headSha: SHA, chartDir: "/c", valuesFiles: [] }, OPEN)).toEqual({ revision: 3 });
    expect(gathered).toBe(0);
    tool.verify();
  });

  it("the evidence is read 15 s before HELM_TIMEOUT, or a fifth of a short one (at least 2 s)", () => {
    expect(evidenceDelayMs(300)).toBe(285_000);
    expect(evidenceDelayMs(60)).toBe(48_000);
    expect(evidenceDelayMs(10)).toBe(8_000);
  });
});
