import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { annotations, expectExit, jobsCreated, pagesServed } from "../support/real-checks.ts";
import { realDockerfile } from "../support/app.ts";
import { e2eWorld, type HelmMajor, type World } from "../support/world.ts";

const real = inject("real");

/**
 * A release's life on a real node, with Helm 3 and Helm 4: an upgrade whose new pods serve the new
 * commit, a commit whose container exits at start (rolled back for real while the old pods keep
 * serving), and a runner SIGKILLed in the middle of a real build.
 */
describe.skipIf("skip" in real).each(["helm3", "helm4"] as const)("a release on the real node with %s", (helm: HelmMajor) => {
  let world: World;
  let base = "";
  beforeAll(async () => {
    if (!("info" in real)) return;
    world = await e2eWorld(real.info);
    base = real.info.real?.baseImage ?? "";
  });
  afterAll(async () => world?.close());

  const release = (name: string) => JSON.parse(world.helm(helm, "status", name, "-n", name, "-o", "json")) as { version: number; info: { status: string } };

  it("upgrades, rolls a crashing commit back in seconds while the old pods serve, and survives a SIGKILL mid-build", async () => {
    const app = world.app(`life-${helm}`);
    const first = app.commit();
    expectExit(await world.run(["sync", "--once"], app.env(helm)), 0);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([first]);

    // 2. An upgrade: the new pods answer with the new commit.
    const second = app.commit();
    expectExit(await world.run(["sync", "--once"], app.env(helm)), 0);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([second]);
    expect(release(app.name)).toMatchObject({ version: 2, info: { status: "deployed" } });

    // 4. A container that exits at start: ended early, rolled back, the previous pods serving throughout.
    app.commit({ Dockerfile: realDockerfile(base, "", '["sh", "-c", "echo crashing on purpose; exit 3"]') });
    const started = Date.now();
    const crashing = world.run(["sync", "--once"], app.env(helm));
    let finished = false;
    void crashing.then(() => { finished = true; });
    const served = new Set<string>();
    while (!finished) {
      for (const page of await pagesServed(world, app.namespace, app.release)) served.add(page);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const crash = await crashing;
    const seconds = (Date.now() - started) / 1000;
    console.log(`${helm}: crashing commit built, deployed, seen crash-looping and rolled back in ${seconds.toFixed(1)}s (HELM_TIMEOUT 120s)`);
    expectExit(crash, 3);
    expect([...served], "pages served while the crashing commit was tried").toEqual([second]);
    expect(seconds).toBeLessThan(100);
    const state = await annotations(world, app.name);
    expect(state["ci-runner.dev/deployed-sha"]).toBe(second);
    expect(state["ci-runner.dev/last-error"]).toMatch(/was ended early and rolled back: container app of pod \S+ keeps crashing \(CrashLoopBackOff, exit code 3, \d+ restarts\)/);
    expect(release(app.name)).toMatchObject({ version: 4, info: { status: "deployed" } }); // 2 deployed, 3 failed, 4 the rollback
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([second]);

    // 8. SIGKILL while the real build runs: the next tick adopts the running Job; one Job for it.
    const fourth = app.commit({ Dockerfile: realDockerfile(base, "RUN sleep 8\n") });
    const quick = app.env(helm, { LEASE_DURATION: "6s" });
    const killed = await world.run(["sync", "--once"], quick, { killOn: (r) => r.method === "GET" && r.path.includes("/jobs?") && r.path.includes("watch=true") });
    expect(killed.killed, killed.stderr).toBe(true);
    await new Promise((r) => setTimeout(r, 6_500));
    const next = await world.run(["sync", "--once"], quick);
    expectExit(next, 0);
    expect(next.logs.map((l) => l.msg)).toContain("Waiting for build Job");
    expect(jobsCreated(world, app.name, fourth)).toHaveLength(1);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([fourth]);
  });
});
