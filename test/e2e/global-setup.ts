import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { bootEnvironment, type EnvironmentInfo, missingHostTools, REPO_ROOT } from "./env/environment.ts";

declare module "vitest" {
  export interface ProvidedContext {
    e2e: { info: EnvironmentInfo } | { skip: string };
  }
}

/**
 * Boots the real control plane, registry and tools once per run. On a laptop without the host
 * tools the suite is skipped with a loud message; with CI=true a missing piece fails the run.
 */
export default async function setup(project: TestProject) {
  const missing = missingHostTools();
  if (missing.length > 0) {
    const reason = `real-cluster tests need ${missing.join(", ")} on PATH (see .ci/run for the packages)`;
    if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
    console.warn(`\n*** SKIPPING the real-cluster suite: ${reason} ***\n`);
    project.provide("e2e", { skip: reason });
    return;
  }
  // The scenarios run the real bundle: rebuild it so it matches the source under test.
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
  const { info, stop } = await bootEnvironment(join(REPO_ROOT, ".testenv", "run", `e2e-${process.pid}`));
  console.log(`real control plane, registry and tools up in ${info.bootSeconds.toFixed(1)}s`);
  project.provide("e2e", { info });
  return stop;
}
