import { once } from "node:events";
import type { Config } from "../config/load.ts";
import { ConfigError, EXIT_CODES, type ExitCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Receiver, type TickStarter } from "../receive/server.ts";

export interface ReceiveOptions {
  readonly port: number;
  readonly host: string;
  readonly cronJob: string;
  readonly ticks: TickStarter;
  /** Aborted on SIGTERM/SIGINT: the server stops taking deliveries and exits 0. */
  readonly stop: AbortSignal;
}

/** The CronJob `ci-runner install` makes for a release. */
export function defaultCronJob(release: string): string {
  return `ci-runner-${release}`;
}

/**
 * `ci-runner receive`: serve GitHub push webhooks until SIGTERM, starting one tick of the
 * runner's CronJob per new head. See receive/server.ts.
 */
export async function runReceive(config: Config, log: Logger, options: ReceiveOptions): Promise<ExitCode> {
  const secret = config.githubWebhookSecret;
  if (secret === undefined) throw new ConfigError("GITHUB_WEBHOOK_SECRET is required by receive", "set it from the Secret that holds the GitHub webhook's secret");
  const receiver = new Receiver({ target: { secret, repo: `${config.repo.owner}/${config.repo.name}`, branch: config.branch }, ticks: options.ticks, log });
  const address = await receiver.listen(options.port, options.host).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`--port ${options.port}: cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`, "pick a free port");
  });
  log.info({ port: address.port, host: address.address, cronJob: `${config.cicdNamespace}/${options.cronJob}`, repo: `${config.repo.owner}/${config.repo.name}`, branch: config.branch }, "Receiving GitHub push webhooks");
  if (!options.stop.aborted) await once(options.stop, "abort");
  await receiver.close();
  log.info({ deliveries: Object.fromEntries(receiver.counters) }, "Stopped after a signal");
  return EXIT_CODES.ok;
}
