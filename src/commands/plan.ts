import { buildDestinations, kanikoJob } from "../adapters/kaniko-job.ts";
import type { Config } from "../config.ts";
import type { ExitCode } from "../errors.ts";
import { runPass } from "../reconcile/pass.ts";
import type { Action } from "../reconcile/types.ts";
import type { Runtime } from "../runtime.ts";
import { exitCodeOf } from "./outcome.ts";
import { type DataFormat, render } from "./render.ts";

/**
 * Observe and decide only: prints the next action, the images and build Job it would create and
 * the helm argv it would run. It changes nothing: it stops after decide, takes no lease, writes no
 * state.
 */
export async function runPlan(config: Config, runtime: Runtime, format: DataFormat, out: (text: string) => void): Promise<ExitCode> {
  const outcome = await runPass(runtime.pass, "plan");
  if (outcome.kind !== "planned") {
    const { kind, ...details } = outcome;
    out(render({ action: kind, ...details }, format));
    return exitCodeOf(outcome);
  }
  out(render(await describe(config, runtime, outcome.action), format));
  return 0;
}

async function describe(config: Config, runtime: Runtime, action: Action): Promise<Record<string, unknown>> {
  const plan: Record<string, unknown> = { action };
  // Which gate holds the head, refuses it, or finds it not worth building.
  if (action.kind === "hold" || action.kind === "set-aside") plan.gate = action.gate;
  if (action.kind === "record-seen") plan.gate = "skip";
  if (action.kind === "start-build") {
    plan.images = buildDestinations(config, action.sha);
    plan.buildJob = kanikoJob(config, action.sha, action.attempt);
  }
  if (action.kind === "start-build" || action.kind === "await-build" || action.kind === "record-build" || action.kind === "deploy") {
    const chartDir = `<checkout of ${config.chartPath} at ${action.sha.slice(0, 12)}>`;
    const valuesFiles = config.valuesFiles.map((f) => `<checkout>/${f}`);
    // A chart-only change is deployed with the image the release already runs.
    const imageSha = action.kind === "deploy" ? (action.imageSha ?? action.sha) : action.sha;
    plan.helm = await runtime.ports.releases.deployArgv({ sha: imageSha, headSha: action.sha, chartDir, valuesFiles });
  }
  return plan;
}
