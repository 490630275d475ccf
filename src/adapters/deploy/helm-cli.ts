import { delimiter } from "node:path";
import { ConfigError, RunnerError, TransientError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { errorSummary, type Exec, type ExecResult, type Termination } from "../exec.ts";

/** Helm 3 or 4, found by asking the binary. Helm 4 renamed --atomic and made --wait take a strategy. */
export type HelmMajor = 3 | 4;

/** How helm is run for one release: the binary, its target and identity, and its limits. */
export interface HelmCliOptions {
  readonly bin: string;
  readonly release: string;
  readonly namespace: string;
  readonly timeoutSeconds: number;
  /** Helm 4's wait strategy; Helm 3 has one of its own. */
  readonly wait: "watcher" | "legacy";
  /**
   * The data limit of every helm process but `helm version`, in bytes (set through the shell's
   * `ulimit -d`, which POSIX shells have). A chart that needs more makes helm fail (the Go runtime
   * exits 2) instead of the runner's pod being killed, which would count no attempt.
   */
  readonly memoryLimitBytes?: number;
  /**
   * The user every helm command acts as (`--kube-as-user`): the deploy identity, never us. The
   * chart renders and applies with that identity's rights in DEPLOY_NS and nothing of ours.
   */
  readonly actAs: string;
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  readonly exec: Exec;
  readonly log: Logger;
  /**
   * After helm failed: what is wrong with the installation rather than the commit (a permission
   * the deploy identity or we lack, a missing DEPLOY_NS), asked of the API server. helm's words
   * are not parsed: Helm 4's watcher reports a forbidden watch only as "status: Unknown", and a
   * chart's own objects refused by a quota or a policy say "forbidden" too. It throws when the API
   * server cannot be reached, which is then what failed.
   */
  readonly clusterProblems?: () => Promise<string[]>;
}

/**
 * The helm command line for one release: which major runs, the flags every command shares, and
 * what a failed command means for the next tick (not the commit's fault, or transient). The
 * release operations themselves are in helm.ts.
 */
export class HelmCli {
  readonly #o: HelmCliOptions;
  #major: Promise<HelmMajor> | undefined;
  #version = "";

  constructor(options: HelmCliOptions) {
    this.#o = options;
  }

  major(): Promise<HelmMajor> {
    this.#major ??= this.#detectMajor();
    return this.#major;
  }

  /** For `doctor`: which helm runs, e.g. "Helm 4 (v4.2.4)". */
  async describe(): Promise<string> {
    const major = await this.major();
    return `Helm ${major} (${this.#version}) at ${this.#o.bin}`;
  }

  async waitFlags(): Promise<string[]> {
    return (await this.major()) === 4 ? [`--wait=${this.#o.wait}`] : ["--wait"];
  }

  /** Namespace, cluster and identity: the same for every command. */
  target(): string[] {
    const o = this.#o;
    const single = o.kubeconfig !== undefined && !o.kubeconfig.includes(delimiter);
    return ["--namespace", o.namespace, ...(single ? ["--kubeconfig", o.kubeconfig ?? ""] : []), ...(o.context ? ["--kube-context", o.context] : []), "--kube-as-user", o.actAs];
  }

  run(args: readonly string[], timeoutMs = (this.#o.timeoutSeconds + 60) * 1000, terminate: readonly Termination[] = [], limited = true): Promise<ExecResult> {
    this.#o.log.debug({ argv: [this.#o.bin, ...args] }, "Running helm");
    // --kubeconfig takes one file; a list goes through KUBECONFIG, which helm merges like kubectl.
    const list = this.#o.kubeconfig?.includes(delimiter) ? { KUBECONFIG: this.#o.kubeconfig } : undefined;
    const options = { timeoutMs, terminate, ...(list ? { env: list } : {}) };
    const limit = limited ? this.#o.memoryLimitBytes : undefined;
    if (limit === undefined) return this.#o.exec(this.#o.bin, args, options);
    // `exec` leaves helm as the process we signal; the limit is in kilobytes.
    return this.#o.exec("/bin/sh", ["-c", 'ulimit -d "$0" && exec "$@"', String(Math.floor(limit / 1024)), this.#o.bin, ...args], options);
  }

  /** A crashed helm in a few words: out of its memory limit, or a panic. */
  crash(result: ExecResult): string {
    const limit = this.#o.memoryLimitBytes === undefined ? "" : ` of ${Math.round(this.#o.memoryLimitBytes / 2 ** 20)}Mi (HELM_MEMORY_LIMIT)`;
    const first = result.stderr.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "no output";
    return `${first.slice(0, 200)}; it ran out of its memory${limit}, or the chart made it panic`;
  }

  /** A failed read or repair: what is not ours to fix, or else transient. */
  async failure(what: string, result: ExecResult): Promise<Error> {
    return (await this.ourFault(what, result)) ?? new TransientError(`helm ${what} for ${this.#o.namespace}/${this.#o.release}: ${errorSummary(result.stderr)}`, "the next tick retries");
  }

  /**
   * When helm failed for a reason that is not the commit's: helm cannot run, the API server cannot
   * be reached, or the installation is wrong (each asked, never read from helm's output).
   */
  async ourFault(what: string, result: ExecResult): Promise<RunnerError | undefined> {
    if (result.startError || result.exitCode === 127) return this.cannotRun(result);
    const summary = errorSummary(result.stderr, 200);
    let problems: string[];
    try {
      problems = (await this.#o.clusterProblems?.()) ?? [];
    } catch (error) {
      if (error instanceof ConfigError) return error;
      const why = error instanceof RunnerError ? error.message : String(error);
      return new TransientError(`helm ${what} for ${this.#o.namespace}/${this.#o.release} failed (${summary}), and the API server did not answer our check: ${why}`, "check the API server's health; the next tick retries");
    }
    if (problems.length === 0) return undefined;
    return new ConfigError(`helm ${what} for ${this.#o.namespace}/${this.#o.release} failed (${summary}): ${problems.join("; ")}`, "fix the installation (manifests/base/rbac-deploy.yaml grants the deploy rights); `ci-runner doctor` checks it all");
  }

  cannotRun(result: Pick<ExecResult, "startError" | "stderr">): ConfigError {
    return new ConfigError(`cannot run helm (${this.#o.bin}): ${result.startError ?? errorSummary(result.stderr)}`, "install Helm 3 or 4 on PATH or set HELM_BIN");
  }

  async #detectMajor(): Promise<HelmMajor> {
    // Asked without the memory limit: a helm that cannot even start is named as such.
    const result = await this.run(["version", "--template", "{{.Version}}"], undefined, [], false);
    const match = /^v(\d+)\./.exec(result.stdout.trim());
    if (result.exitCode !== 0 || !match) throw this.cannotRun(result);
    const major = Number(match[1]);
    this.#version = result.stdout.trim();
    if (major !== 3 && major !== 4) throw new ConfigError(`helm ${result.stdout.trim()} is not supported`, "use Helm 3 or Helm 4");
    return major;
  }
}
