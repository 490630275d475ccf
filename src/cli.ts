import { Command, CommanderError, Option } from "commander";
import { runDoctor } from "./commands/doctor.ts";
import { runInstall, runUninstall } from "./commands/install.ts";
import { doctorChecks } from "./commands/doctor-checks.ts";
import { runPlan } from "./commands/plan.ts";
import type { DataFormat } from "./commands/render.ts";
import { runApprove } from "./commands/approve.ts";
import { runRetry } from "./commands/retry.ts";
import { settingsHelp } from "./commands/settings.ts";
import { runStatus, type StatusFormat } from "./commands/status.ts";
import { runSync } from "./commands/sync.ts";
import { type Config, explicitSettings, loadConfig, type Requirement } from "./config/load.ts";
import { ConfigError, EXIT_CODES, type ExitCode, exitCodeFor, RunnerError } from "./errors.ts";
import { createLogger, type Logger, Secrets } from "./log.ts";
import type { Env } from "./wiring/child-env.ts";
import { createRuntime, receiverTicks } from "./wiring/factory.ts";
import type { TickStarter } from "./receive/server.ts";
import type { Runtime } from "./wiring/runtime.ts";
import { SETTINGS } from "./config/settings.ts";

export interface CliIO {
  readonly env: Env;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stderrIsTTY: boolean;
  readonly version: string;
  /** Aborted on SIGTERM/SIGINT. */
  readonly stop: AbortSignal;
  /** Tests replace the wait between passes of `sync` without --once. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Tests replace the real adapters. */
  readonly makeRuntime?: (config: Config, env: Env, log: Logger, secrets: Secrets) => Runtime;
  /** Tests replace the receiver's Kubernetes side. */
  readonly makeTicks?: (config: Config, cronJob: string) => TickStarter;
}

const EXIT_TABLE = `
Exit codes:
  0  success or progress: up to date, deployed, another run holds the lease, the release is mid-operation, or a gate holds or skipped the head
  1  internal error (a bug: the log has the stack)
  2  usage or configuration error: fix the input named in the message
  3  transient failure: the next tick retries (network, API, a failed attempt with retries left)
  4  the head commit is set aside (MAX_RETRIES failed attempts, or a required check failed): push a newer commit or run \`ci-runner retry\``;

const ENV_ONLY = SETTINGS.filter((s) => s.flag === undefined).map((s) => s.env);
const SETTINGS_POINTER = `
Settings: every flag above also reads its environment variable; ${ENV_ONLY.join(", ")}
${ENV_ONLY.length > 1 ? "are" : "is"} read from the environment only (secrets never travel in argv). \`ci-runner help settings\` lists them all.`;

function addSettings(command: Command): Command {
  for (const s of SETTINGS) {
    if (s.flag === undefined) continue;
    const valued = s.key === "registryInsecure" ? `${s.flag} [bool]` : `${s.flag} <value>`;
    command.addOption(new Option(valued, `${s.form} [env ${s.env}${s.fallback ? `, default ${s.fallback}` : ""}]`));
  }
  return command.addHelpText("after", SETTINGS_POINTER);
}

/** The whole CLI; returns the exit code instead of exiting, so tests can drive it. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  let code: ExitCode = EXIT_CODES.ok;
  const secrets = new Secrets();
  secrets.add(io.env.GIT_TOKEN);
  secrets.add(io.env.GITHUB_WEBHOOK_SECRET);
  const out = (text: string) => io.stdout(secrets.scrub(text));

  const program = new Command("ci-runner")
    .description("Follow one GitHub branch: build each new commit in the cluster with Kaniko and deploy it with Helm.\nRun `sync --once` from a CronJob; the schedule is the polling interval.")
    .version(io.version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", `\nSettings: \`ci-runner help settings\` lists every variable and flag.\n${EXIT_TABLE}`)
    // Usage errors read like every other error: "ci-runner: <what>", scrubbed like all our output.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(secrets.scrub(`ci-runner: ${text.replace(/^error: /, "")}`)) })
    .exitOverride();

  async function withConfig(requirement: Requirement, opts: Record<string, unknown>, body: (config: Config, log: Logger) => Promise<ExitCode>) {
    const config = loadConfig(io.env, opts, requirement);
    const pretty = config.logFormat === "pretty" || (config.logFormat === "auto" && io.stderrIsTTY);
    const log = createLogger({ level: config.logLevel, pretty, secrets, write: io.stderr });
    try {
      code = await body(config, log);
    } catch (error) {
      code = exitCodeFor(error);
      const remedy = error instanceof RunnerError ? error.remedy : "this is a bug: please report it with this log";
      log.error({ err: error, remedy }, error instanceof RunnerError ? error.message : "Internal error");
    }
  }
  const runtime = (config: Config, log: Logger) => (io.makeRuntime ?? createRuntime)(config, io.env, log, secrets);

  addSettings(program.command("sync"))
    .description("reconcile the release with the branch head: build and deploy what is new")
    .option("--once", "one pass, then exit (the CronJob entry point)")
    .addHelpText("after", `
Examples:
  $ REPO=acme/shop IMAGE=ghcr.io/acme/shop CHART_PATH=deploy/chart RELEASE=shop ci-runner sync --once
  $ ci-runner sync --once --kubeconfig ~/.kube/dev --context dev --repo acme/shop --image ghcr.io/acme/shop --chart-path deploy/chart --release shop
  $ ci-runner sync --interval 60s     # loop until SIGTERM, outside a CronJob
${EXIT_TABLE}`)
    .action((opts: Record<string, unknown>) => withConfig("sync", opts, (config, log) =>
      runSync(runtime(config, log), log, { once: opts.once === true, intervalSeconds: config.intervalSeconds, stop: io.stop, sleep: io.sleep })));

  addSettings(program.command("status"))
    .description("show what is deployed, what is building, what is set aside and who holds the lease")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table"))
    .addHelpText("after", `
Examples:
  $ ci-runner status --release shop --repo acme/shop
  $ ci-runner status -o json | jq .deployed.sha`)
    .action((opts: Record<string, unknown>) => withConfig("status", opts, (config, log) => {
      const { ports } = runtime(config, log);
      return runStatus(config, ports, opts.output as StatusFormat, out);
    }));

  addSettings(program.command("plan"))
    .description("observe and decide only: print the next action, the images, the build Job and the helm command; change nothing")
    .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml"))
    .addHelpText("after", `
Examples:
  $ ci-runner plan --repo acme/shop --image ghcr.io/acme/shop --chart-path deploy/chart --release shop
  $ ci-runner plan -o json | jq -r '.helm | join(" ")'`)
    .action((opts: Record<string, unknown>) => withConfig("sync", opts, (config, log) => runPlan(config, runtime(config, log), opts.output as DataFormat, out)));

  addSettings(program.command("retry"))
    .description("let the set-aside commit be tried again (MAX_RETRIES new attempts) on the next pass")
    .argument("[sha]", "the set-aside commit (full or abbreviated); default: whatever is set aside")
    .addHelpText("after", `
Examples:
  $ ci-runner retry --release shop
  $ ci-runner retry 3f2a9c1 --release shop`)
    .action((sha: string | undefined, opts: Record<string, unknown>) => withConfig("status", opts, (config, log) =>
      runRetry(runtime(config, log).ports.state, sha, out)));

  addSettings(program.command("approve"))
    .description("approve a commit for deployment (REQUIRE_APPROVAL): records it with who approved it and when")
    .argument("<sha>", "the commit's full 40-character SHA (status and the waiting message print it)")
    .addHelpText("after", `
Examples:
  $ ci-runner approve 3f2a9c1e7d0b5a4c8e2f6a9b1d3c5e7f9a0b2c4d --release shop
  $ kubectl -n cicd annotate configmap ci-runner-shop ci-runner.dev/approved-sha=<full sha> ci-runner.dev/approved-by=<you, as the API server knows you>   # the same, by hand`)
    .action((sha: string, opts: Record<string, unknown>) => withConfig("status", opts, (config, log) => {
      const rt = runtime(config, log);
      return runApprove({ state: rt.ports.state, identity: rt.identity, clock: rt.ports.clock }, sha, out);
    }));

  program.command("settings")
    .description("list every setting: environment variable, flag, default and the form expected")
    .addHelpText("after", `\n${settingsHelp()}`)
    .action(() => { out(settingsHelp()); });

  addSettings(program.command("doctor"))
    .description("check the installation: branch and token, registry Secret, permissions, Helm, chart, state")
    .addHelpText("after", `
Examples:
  $ ci-runner doctor --kubeconfig ~/.kube/dev --release shop --repo acme/shop --image ghcr.io/acme/shop --chart-path chart`)
    .action((opts: Record<string, unknown>) => withConfig("sync", opts, (config, log) => runDoctor(doctorChecks(config, runtime(config, log)), out)));

  addSettings(program.command("install"))
    .description("install or update one runner in the cluster: its namespaces, identities, least rights (from the chart at the head), admission policies and CronJob")
    .option("--runner-image <image>", "the ci-runner image the CronJob runs (required)")
    .option("--schedule <cron>", "the CronJob schedule: the polling interval", "*/2 * * * *")
    .option("--github-app-key-secret <name>", "Secret in CICD_NS with key private-key: the GitHub App's key (with GITHUB_APP_ID)")
    .option("--webhook-url-secret <name>", "Secret in CICD_NS with key url: WEBHOOK_URL")
    .option("--receiver-secret <name>", "Secret in CICD_NS with key secret, the GitHub webhook's: also install `ci-runner receive`, so a push starts a tick at once")
    .option("--runner-env <NAME=VALUE...>", "more environment for the runner's pod that is no setting (a proxy, a CA bundle); repeatable")
    .option("--dry-run", "print what would change (checked by the API server); change nothing")
    .addOption(new Option("-o, --output <format>", "print the objects instead of applying them").choices(["yaml"]))
    .addHelpText("after", `
Before: create CICD_NS and the Secrets install references (it reads them only to check them):
  $ kubectl create namespace cicd
  $ kubectl -n cicd create secret docker-registry regcred --docker-server=ghcr.io --docker-username=... --docker-password=...
Examples:
  $ ci-runner install --repo acme/shop --image ghcr.io/acme/shop --chart-path deploy/chart --release shop --registry-secret regcred --runner-image ghcr.io/acme/ci-runner:1.0.0
  $ ci-runner install ... --dry-run     # what would change, checked by the API server
  $ ci-runner install ... -o yaml       # the objects, for GitOps
Run it again with the same settings after the chart gains a kind: it grants the deploy identity what the chart renders.`)
    .action((opts: Record<string, unknown>) => withConfig("sync", opts, (config, log) => runInstall(config, runtime(config, log), {
      runnerImage: opts.runnerImage as string | undefined,
      schedule: String(opts.schedule),
      refs: { githubAppKeySecret: opts.githubAppKeySecret as string | undefined, webhookUrlSecret: opts.webhookUrlSecret as string | undefined, receiverSecret: opts.receiverSecret as string | undefined },
      runnerEnv: (opts.runnerEnv as string[] | undefined) ?? [],
      dryRun: opts.dryRun === true,
      yaml: opts.output === "yaml",
      explicit: explicitSettings(io.env, opts),
    }, out)));

  addSettings(program.command("receive"))
    .description("serve GitHub push webhooks: each signed push to the branch starts a tick of the runner's CronJob at once (the schedule stays the fallback)")
    .option("--port <port>", "port to listen on", "8080")
    .option("--listen <address>", "address to listen on", "0.0.0.0")
    .option("--cronjob <name>", "the runner's CronJob in CICD_NS (default ci-runner-<release>, as install names it)")
    .addHelpText("after", `
GITHUB_WEBHOOK_SECRET (environment only) is the webhook's secret: deliveries without its signature get 401.
Examples:
  $ GITHUB_WEBHOOK_SECRET=... ci-runner receive --repo acme/shop --release shop
  $ ci-runner install ... --receiver-secret ci-runner-receiver   # runs it as a Deployment with a Service`)
    .action((opts: Record<string, unknown>) => withConfig("receive", opts, async (config, log) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port ${JSON.stringify(opts.port)} is not a port`, "pass a number from 1 to 65535");
      // Loaded on use: node:http has no place in the image's start-up snapshot.
      const { defaultCronJob, runReceive } = await import("./commands/receive.ts");
      const cronJob = (opts.cronjob as string | undefined) ?? defaultCronJob(config.release);
      const ticks = io.makeTicks?.(config, cronJob) ?? await receiverTicks(config, io.env, cronJob);
      return runReceive(config, log, { port, host: String(opts.listen), cronJob, ticks, stop: io.stop });
    }));

  addSettings(program.command("uninstall"))
    .description("remove one runner's installation: its CronJob, identities, rights, state and build Jobs (the app keeps running)")
    .option("--delete-release", "also delete DEPLOY_NS with the app in it, if install created it")
    .addHelpText("after", `
Examples:
  $ ci-runner uninstall --release shop
  $ ci-runner uninstall --release shop --deploy-ns shop --delete-release`)
    .action((opts: Record<string, unknown>) => withConfig("status", opts, (config, log) =>
      runUninstall(config, runtime(config, log).install, { deleteRelease: opts.deleteRelease === true }, out)));

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    return usageExit(error, { ...io, stderr: (text) => io.stderr(secrets.scrub(text)) });
  }
  return code;
}

function usageExit(error: unknown, io: CliIO): ExitCode {
  if (error instanceof CommanderError) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return EXIT_CODES.ok;
    return EXIT_CODES.config;
  }
  if (error instanceof ConfigError) {
    io.stderr(`ci-runner: ${error.message}:\n${error.problems.map((p) => `  - ${p}\n`).join("")}  fix: ${error.remedy ?? ""}\n`);
    return EXIT_CODES.config;
  }
  io.stderr(`ci-runner: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT_CODES.internal;
}
