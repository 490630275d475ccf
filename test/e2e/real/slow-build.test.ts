import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { realDockerfile } from "../support/app.ts";
import { e2eWorld, type World } from "../support/world.ts";

const real = inject("real");

// Real builds take minutes; the fast sample app finishes within any watch's or request's timeout.
// This one outlasts them: the runner must keep waiting across a quiet build Job.
describe.skipIf("skip" in real)("a build that runs longer than a minute", () => {
  let world: World;
  beforeAll(async () => {
    if ("info" in real) world = await e2eWorld(real.info);
  });
  afterAll(async () => world?.close());

  it("is waited for, then deployed", async () => {
    if (!("info" in real)) return;
    const app = world.app("slow");
    const base = real.info.real?.baseImage ?? "";
    const sha = app.commit({ Dockerfile: realDockerfile(base, "RUN sleep 70\n") });
    const sync = await world.run(["sync", "--once"], app.env("helm4"));
    writeFileSync(join(world.root, `sync-${app.name}.log`), sync.stderr);
    expect(sync.code, `ci-runner sync --once exited ${sync.code}:\n${sync.stderr}${sync.stdout}`).toBe(0);
    const state = await world.get<{ metadata: { annotations?: Record<string, string> } }>(`/api/v1/namespaces/cicd/configmaps/ci-runner-${app.name}`);
    expect(state?.metadata.annotations?.["ci-runner.dev/deployed-sha"]).toBe(sha);
  });
});
