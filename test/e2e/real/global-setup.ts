import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type EnvironmentInfo, REPO_ROOT } from "../env/environment.ts";
import { alive } from "../env/processes.ts";
import { bootRealNode, missingRealNodePrerequisites, realNodeLeftovers, tearDownRealNode } from "../env/real-node.ts";

declare module "vitest" {
  export interface ProvidedContext {
    real: { info: EnvironmentInfo } | { skip: string };
  }
}

const RUNS = join(REPO_ROOT, ".testenv", "run");
/** Where `npm run demo` keeps its real node (scripts/demo.ts). */
const DEMO = join(REPO_ROOT, ".testenv", "demo-real");

/**
 * One machine has room for one real node (one bridge, one kubelet). The README's two commands are
 * `npm run demo`, then `npm test`: the suite stops the demo's node first, and says so.
 */
async function stopTheDemo(): Promise<void> {
  if (!existsSync(join(DEMO, "host.json")) || realNodeLeftovers(DEMO).length === 0) return;
  console.warn("stopping the real node that `npm run demo` left running (one real node fits on a machine); `npm run demo` starts it again");
  await tearDownRealNode(DEMO);
}

/** A test process killed mid-run left its node behind; its folder name carries its PID. */
async function tearDownAbandonedRuns(): Promise<void> {
  if (!existsSync(RUNS)) return;
  for (const name of readdirSync(RUNS)) {
    const owner = /^real-(\d+)$/.exec(name);
    if (!owner || alive(Number(owner[1]))) continue;
    const dir = join(RUNS, name);
    if (existsSync(join(dir, "host.json"))) {
      console.warn(`tearing down the real node a killed run left in ${dir}`);
      await tearDownRealNode(dir);
    }
  }
}

/**
 * Boots the real node once per run (it needs root and Debian packages). On a laptop without them
 * the suite is skipped with a loud message; with CI=true a missing piece fails the run. Teardown
 * fails the run if anything of the node is left on the machine.
 */
export default async function setup(project: TestProject) {
  const missing = missingRealNodePrerequisites();
  if (missing.length > 0) {
    const reason = `real-node tests need ${missing.join(", ")} (see .ci/run for the packages)`;
    if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
    console.warn(`\n*** SKIPPING the real-node suite: ${reason} ***\n`);
    project.provide("real", { skip: reason });
    return;
  }
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
  await tearDownAbandonedRuns();
  await stopTheDemo();
  const dir = join(RUNS, `real-${process.pid}`);
  const { info, stop } = await bootRealNode(dir);
  console.log(`real node up in ${info.bootSeconds.toFixed(1)}s`);
  project.provide("real", { info });
  return async () => {
    await stop();
    const left = realNodeLeftovers(dir);
    if (left.length > 0) throw new Error(`the real node left this behind on the machine:\n  ${left.join("\n  ")}`);
  };
}
