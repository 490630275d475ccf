import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttemptFailure, ConfigError, TransientError } from "../../errors.ts";
import type { ChartCheckout, ChartSource } from "../../reconcile/ports.ts";
import { unsafeEntry } from "./tree.ts";
import { errorSummary, type Exec } from "../exec.ts";
import type { GitHubToken } from "../github/octokit.ts";
import { classifyGitFailure } from "./git-errors.ts";

/** How long one git command of the checkout may take. */
const GIT_TIMEOUT_MS = 120_000;

export interface GitChartOptions {
  readonly gitUrl: string;
  readonly chartPath: string;
  readonly valuesFiles: readonly string[];
  /** The token git sends, asked before each fetch: GIT_TOKEN, or the App's current installation token. */
  readonly auth: GitHubToken;
  readonly exec: Exec;
  readonly tmp?: string;
}

/**
 * The chart at exactly one commit, with git: a shallow, blob-less fetch of that SHA and a sparse
 * checkout of CHART_PATH and the values files, so only what the deploy needs is downloaded.
 * The token travels as an HTTP header set through git's environment, never in argv or the URL.
 */
export class GitChartSource implements ChartSource {
  readonly #o: GitChartOptions;
  readonly #prefetched = new Map<string, Promise<ChartCheckout>>();

  constructor(options: GitChartOptions) {
    this.#o = options;
  }

  async prefetch(sha: string): Promise<void> {
    if (this.#prefetched.has(sha)) return;
    this.#discardOthers(sha);
    const pending = this.#fetch(sha);
    pending.catch(() => undefined); // reported by checkout(), if the deploy ever asks for it
    this.#prefetched.set(sha, pending);
  }

  checkout(sha: string): Promise<ChartCheckout> {
    this.#discardOthers(sha);
    const pending = this.#prefetched.get(sha);
    this.#prefetched.delete(sha);
    return pending ?? this.#fetch(sha);
  }

  /** A prefetch whose build failed is never deployed: remove its folder when another SHA comes. */
  #discardOthers(sha: string): void {
    for (const [other, pending] of this.#prefetched) {
      if (other === sha) continue;
      this.#prefetched.delete(other);
      pending.then((checkout) => checkout.dispose(), () => undefined);
    }
  }

  async #fetch(sha: string): Promise<ChartCheckout> {
    const root = await mkdtemp(join(this.#o.tmp ?? tmpdir(), "ci-runner-chart-"));
    const dispose = () => rm(root, { recursive: true, force: true });
    try {
      const patterns = [`/${this.#o.chartPath.replace(/\/+$/, "")}/`, ...this.#o.valuesFiles.map((f) => `/${f}`)];
      const token = await this.#o.auth.token();
      const git = (args: string[]) => this.#git(root, args, token);
      await git(["init", "--quiet"]);
      await git(["remote", "add", "origin", this.#o.gitUrl]);
      await git(["sparse-checkout", "set", "--no-cone", ...patterns]);
      await git(["fetch", "--quiet", "--depth=1", "--filter=blob:none", "--no-tags", "origin", sha]);
      await git(["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
      const chartDir = join(root, this.#o.chartPath);
      if (!(await exists(join(chartDir, "Chart.yaml")))) {
        throw new AttemptFailure(`commit ${sha.slice(0, 12)} has no Helm chart at CHART_PATH=${this.#o.chartPath} (no Chart.yaml)`);
      }
      for (const file of this.#o.valuesFiles) {
        if (!(await exists(join(root, file)))) throw new AttemptFailure(`commit ${sha.slice(0, 12)} has no values file ${file} (VALUES_FILES)`);
      }
      await refuseUnsafe(sha, root, chartDir, this.#o.valuesFiles);
      return { root, chartDir, dispose };
    } catch (error) {
      await dispose();
      throw error;
    }
  }

  async #git(cwd: string, args: string[], token: string | undefined): Promise<void> {
    // LC_ALL=C: git's messages untranslated, so that its failures can be told apart (git-errors.ts).
    const env: Record<string, string> = { GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
    if (token) {
      const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
      Object.assign(env, { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
    }
    const result = await this.#o.exec("git", ["-c", "advice.detachedHead=false", ...args], { cwd, env, timeoutMs: GIT_TIMEOUT_MS });
    if (result.startError) throw new ConfigError(`cannot run git: ${result.startError}`, "install git in the runner image or on PATH");
    // The fetch is blob-less and sparse: only the chart and the values files. One that takes this
    // long is a commit that put too much there (gigabytes of blobs): its failure, counted.
    if (result.timedOut) throw new AttemptFailure(`git ${args[0]} of ${this.#o.gitUrl} took longer than ${GIT_TIMEOUT_MS / 1000} s: the chart and values files at this commit are too large to fetch`);
    if (result.exitCode !== 0) throw this.#translate(args[0] ?? "", result.stderr, token !== undefined);
  }
  #translate(command: string, stderr: string, token: boolean): Error {
    const { gitUrl } = this.#o;
    const summary = errorSummary(stderr);
    const failure = classifyGitFailure(stderr);
    switch (failure.kind) {
      case "refused":
        return new ConfigError(`git ${command} of ${gitUrl} was refused${failure.status ? ` (${failure.status})` : ""}: ${summary}`, token ? "check that GIT_TOKEN can read the repository, and GIT_URL" : "a private repository needs GIT_TOKEN; check GIT_URL");
      case "not-found":
        return new ConfigError(`git ${command} of ${gitUrl}: repository not found: ${summary}`, token ? "check GIT_URL, and that GIT_TOKEN can read the repository" : "check GIT_URL; a private repository needs GIT_TOKEN");
      case "certificate":
        return new ConfigError(`git ${command} of ${gitUrl}: the server's TLS certificate is not trusted: ${summary}`, "give the runner the CA bundle that signed it: mount it and set GIT_SSL_CAINFO to its path (or GIT_SSL_CAPATH to a folder of CA certificates)");
      case "other":
        return new TransientError(`git ${command} of ${gitUrl} failed: ${summary}`, "the next tick retries");
      default: {
        const unhandled: never = failure; // a new kind of failure must be given its own case
        return unhandled;
      }
    }
  }
}

/** A chart or values file that would make Helm read outside the checkout is the commit's fault. */
async function refuseUnsafe(sha: string, root: string, chartDir: string, valuesFiles: readonly string[]): Promise<void> {
  const checks = [{ root, path: chartDir, boundary: chartDir }, ...valuesFiles.map((file) => ({ root, path: join(root, file), boundary: root }))];
  for (const check of checks) {
    const problem = await unsafeEntry(check);
    if (problem) throw new AttemptFailure(`commit ${sha.slice(0, 12)} is refused: ${problem}; Helm must read nothing outside the chart and the repository`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
