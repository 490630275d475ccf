import { stringify as toYaml } from "yaml";
import { kanikoJob } from "../adapters/kaniko-job.ts";
import type { Config } from "../config.ts";
import type { ExitCode } from "../errors.ts";
import { runPass } from "../reconcile/pass.ts";
import type { Action } from "../reconcile/types.ts";
import type { Runtime } from "../runtime.ts";
import { exitCodeOf } from "./outcome.ts";

/**
 * Observe and decide only: prints the next action, the build Job it would create and the helm argv
 * it would run. It changes nothing: it stops after decide, it takes no lease, writes no state.
 */
export async function runPlan(config: Config, runtime: Runtime, out: (text: string) => void): Promise<ExitCode> {
  const outcome = await runPass(runtime.pass, "plan");
  if (outcome.kind !== "planned") {
    const { kind, ...details } = outcome;
    out(toYaml({ action: kind, ...details }));
    return exitCodeOf(outcome);
  }
  out(toYaml(await describe(config, runtime, outcome.action)));
  return 0;
}

async function describe(config: Config, runtime: Runtime, action: Action): Promise<Record<string, unknown>> {
  const plan: Record<string, unknown> = { action };
  if (action.kind === "start-build") plan.buildJob = kanikoJob(config, action.sha, action.attempt);
  if (action.kind === "start-build" || action.kind === "await-build" || action.kind === "record-build" || action.kind === "deploy") {
    const chartDir = `<checkout of ${config.chartPath} at ${action.sha.slice(0, 12)}>`;
    const valuesFiles = config.valuesFiles.map((f) => `<checkout>/${f}`);
    plan.helm = await runtime.ports.releases.deployArgv({ sha: action.sha, chartDir, valuesFiles });
  }
  return plan;
}
