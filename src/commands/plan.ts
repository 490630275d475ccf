import type { Config } from "../config/load.ts";
import type { ExitCode } from "../errors.ts";
import { observe } from "../reconcile/observe.ts";
import { idleOutcome, nextStep, type PassContext } from "../reconcile/pass.ts";
import type { Action, IdleAction, RunnerState } from "../reconcile/types.ts";
import type { Runtime } from "../wiring/runtime.ts";
import { exitCodeOf } from "./outcome.ts";
import { type DataFormat, render } from "./render.ts";

/**
 * Observe and decide only: prints the next action, the images and build Job it would create and
 * the helm argv it would run. It changes nothing: it takes no lease and writes no state. It is the
 * first step of a pass, stopped after decide.
 */
export async function runPlan(config: Config, runtime: Runtime, format: DataFormat, out: (text: string) => void): Promise<ExitCode> {
  const plan = await plannedAction(runtime);
  if (plan.recorded) {
    // Nothing to plan: the head's record decides, and ends the pass as it would.
    const outcome = idleOutcome(plan.action, runtime.log);
    const { kind, ...details } = outcome;
    out(render({ action: kind, ...details }, format));
    return exitCodeOf(outcome);
  }
  out(render(await describe(config, runtime, plan.action, plan.state), format));
  return 0;
}

/** What the next pass would do first: its first observe and decide, and nothing more. */
export async function plannedAction(ctx: Pick<PassContext, "ports" | "rules" | "log">): Promise<{ recorded: true; action: IdleAction } | { recorded: false; action: Action; state: RunnerState }> {
  const { ports, rules, log } = ctx;
  const seen = await observe(ports, rules.policy, log);
  if (seen.recorded !== undefined) return { recorded: true, action: seen.recorded };
  return { recorded: false, action: (await nextStep(ports, rules, seen.head.sha, seen.snapshot.state, seen.gates ?? {})).action, state: seen.snapshot.state };
}

async function describe(config: Config, runtime: Runtime, action: Action, state: RunnerState): Promise<Record<string, unknown>> {
  const plan: Record<string, unknown> = { action };
  // Which gate holds the head, refuses it, or finds it not worth building.
  if (action.kind === "hold" || action.kind === "set-aside") plan.gate = action.gate;
  if (action.kind === "record-seen") plan.gate = "skip";
  if (action.kind === "start-build") {
    const build = await runtime.ports.builds.plan({ sha: action.sha, attempt: action.attempt });
    plan.images = build.images;
    plan.buildJob = build.job;
  }
  if (action.kind === "start-build" || action.kind === "await-build" || action.kind === "record-build" || action.kind === "deploy") {
    const chartDir = `<checkout of ${config.chartPath} at ${action.sha.slice(0, 12)}>`;
    const valuesFiles = config.valuesFiles.map((f) => `<checkout>/${f}`);
    // A chart-only change is deployed with the image the release already runs.
    const imageSha = action.kind === "deploy" ? (action.imageSha ?? action.sha) : action.sha;
    plan.helm = await runtime.ports.releases.deployArgv({ sha: imageSha, headSha: action.sha, chartDir, valuesFiles });
  }
  // What follows once the release is Ready (VERIFY), and where a failure goes back to.
  if (config.verify.helmTest && (plan.helm !== undefined || action.kind === "verify")) {
    const back = action.kind === "verify" ? action.rollbackTo : state.verified;
    plan.verify = `helm test ${config.release} --logs; on failure, roll back to ${back ? `revision ${back.revision ?? "?"} (${back.sha.slice(0, 12)}, the last verified commit)` : "nothing (no verified commit yet): the commit stays and is set aside"}`;
  }
  return plan;
}
