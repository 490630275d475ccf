import { z } from "zod";
import { TransientError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { Transition } from "../../reconcile/ports.ts";
import { type GitHubClient, githubMessage, isRateLimit, statusOf } from "../github/octokit.ts";
import type { NamedReporter } from "./fan-out.ts";
import { oneLine, short } from "../../text.ts";
import { failureKind } from "./text.ts";

export type DeploymentState = "in_progress" | "success" | "failure";

export interface StatusNote {
  readonly state: DeploymentState;
  /** At most 140 characters: GitHub refuses longer. */
  readonly description: string;
}

const MAX_DESCRIPTION = 140;

/** The status a transition sets on its attempt's Deployment, if any. */
export function statusFor(t: Transition): StatusNote | undefined {
  const note = (state: DeploymentState, text: string) => ({ state, description: oneLine(text, MAX_DESCRIPTION) });
  switch (t.kind) {
    case "build-started":
      return note("in_progress", `Building the image (attempt ${t.attempt})`);
    case "build-succeeded":
      return note("in_progress", `Built ${t.digest.slice(0, 19)}; deploying next`);
    case "deploy-started":
      return note("in_progress", `Deploying with helm (attempt ${t.attempt})`);
    case "deployed":
      return note("success", `Deployed${t.revision === undefined ? "" : ` revision ${t.revision}`}${t.digest ? `, image ${t.digest.slice(0, 19)}` : ""}`);
    case "attempt-failed": {
      const kind = failureKind(t);
      const what = kind === "build-failed" ? "Build failed" : kind === "rolled-back" ? "Rolled back" : "Deploy failed";
      return note("failure", `${t.setAside ? "Set aside. " : ""}${what}: ${t.evidence?.summary ?? t.message}`);
    }
    case "lease-contention":
      return undefined;
  }
}

const Deployment = z.object({ id: z.number().int(), payload: z.unknown() });
const Status = z.object({ state: z.string() });

export interface GitHubDeploymentsOptions {
  readonly octokit: GitHubClient;
  readonly owner: string;
  readonly repo: string;
  readonly release: string;
  readonly environment: string;
  readonly environmentUrl: string | undefined;
  readonly log: Logger;
}

/**
 * A GitHub Deployment per attempt in the release's environment, with statuses in_progress, then
 * success or failure; the deployment it replaces becomes inactive. Stateless like a pass: the
 * attempt's Deployment is found again by its payload, so a run killed after creating it does not
 * create a second one. Where the token may not create deployments, a commit status instead (one
 * context per release), said once in the log.
 */
export class GitHubDeployments implements NamedReporter {
  readonly name = "github-deployments";
  readonly #o: GitHubDeploymentsOptions;
  readonly #ids = new Map<string, number>();
  #commitStatusesOnly = false;

  constructor(options: GitHubDeploymentsOptions) {
    this.#o = options;
  }

  get context(): string {
    return `ci-runner/${this.#o.release}`;
  }

  async report(transition: Transition): Promise<void> {
    const note = statusFor(transition);
    if (note === undefined || transition.kind === "lease-contention") return;
    if (!this.#commitStatusesOnly) {
      try {
        await this.#deploymentStatus(transition.sha, transition.attempt, note);
        return;
      } catch (error) {
        if (!refused(error)) throw this.#translate(error, "recording a deployment status");
        this.#commitStatusesOnly = true;
        this.#o.log.warn({ repository: `${this.#o.owner}/${this.#o.repo}`, context: this.context, error: githubMessage(error) },
          "The GitHub token may not create deployments; reporting commit statuses instead (grant Deployments: write to use deployments)");
      }
    }
    await this.#commitStatus(transition.sha, note);
  }

  async #deploymentStatus(sha: string, attempt: number, note: StatusNote): Promise<void> {
    const { octokit, owner, repo, environmentUrl } = this.#o;
    const id = await this.#ensureDeployment(sha, attempt);
    await octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
      owner, repo, deployment_id: id, state: note.state, description: note.description,
      ...(note.state === "success" && environmentUrl ? { environment_url: environmentUrl } : {}),
      // Done below, for production environments too (GitHub's own does only the others).
      auto_inactive: false,
    });
    if (note.state === "success") await this.#inactivatePrevious(id);
  }

  /** The attempt's Deployment: found by its payload, or created. */
  async #ensureDeployment(sha: string, attempt: number): Promise<number> {
    const key = `${sha}/${attempt}`;
    const known = this.#ids.get(key);
    if (known !== undefined) return known;
    const { octokit, owner, repo, environment, release } = this.#o;
    const listed = await octokit.request("GET /repos/{owner}/{repo}/deployments", { owner, repo, sha, environment, per_page: 100 });
    const existing = z.array(Deployment).parse(listed.data).find((d) => ours(d.payload, release, attempt));
    if (existing) {
      this.#ids.set(key, existing.id);
      return existing.id;
    }
    // Killed between this create and the status: the next transition finds it by the payload.
    const created = await octokit.request("POST /repos/{owner}/{repo}/deployments", {
      owner, repo, ref: sha, environment, task: "deploy", auto_merge: false, required_contexts: [],
      payload: { ci_runner: { release, attempt } }, description: `ci-runner: ${release} at ${short(sha)}, attempt ${attempt}`,
    });
    const id = Deployment.parse(created.data).id;
    this.#ids.set(key, id);
    return id;
  }

  /**
   * The newest earlier deployment of the environment that is still success becomes inactive; only
   * one can be, since each success here makes the one before it inactive.
   */
  async #inactivatePrevious(current: number): Promise<void> {
    const { octokit, owner, repo, environment } = this.#o;
    const listed = await octokit.request("GET /repos/{owner}/{repo}/deployments", { owner, repo, environment, per_page: 20 });
    for (const deployment of z.array(Deployment).parse(listed.data)) {
      if (deployment.id === current) continue;
      const statuses = await octokit.request("GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", { owner, repo, deployment_id: deployment.id, per_page: 1 });
      const latest = z.array(Status).parse(statuses.data)[0]?.state;
      if (latest === "inactive") return;
      if (latest !== "success") continue;
      await octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
        owner, repo, deployment_id: deployment.id, state: "inactive", description: "Replaced by a newer deployment", auto_inactive: false,
      });
      return;
    }
  }

  async #commitStatus(sha: string, note: StatusNote): Promise<void> {
    const { octokit, owner, repo, environmentUrl } = this.#o;
    try {
      await octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
        owner, repo, sha, context: this.context, description: note.description,
        state: note.state === "in_progress" ? "pending" : note.state,
        ...(note.state === "success" && environmentUrl ? { target_url: environmentUrl } : {}),
      });
    } catch (error) {
      throw this.#translate(error, "setting a commit status");
    }
  }

  #translate(error: unknown, what: string): Error {
    const { owner, repo } = this.#o;
    const remedy = statusOf(error) === 403 || statusOf(error) === 404
      ? "give the token Deployments: write (or Commit statuses: write) on the repository; the pass went on without it"
      : "the next transition tries again; the pass went on without it";
    return new TransientError(`${what} on ${owner}/${repo}: ${githubMessage(error)}`, remedy);
  }
}

/** This release's Deployment of this attempt: its payload says so (GitHub may hand it back as a JSON string). */
function ours(payload: unknown, release: string, attempt: number): boolean {
  let value = payload;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return false;
    }
  }
  const mark = (value as { ci_runner?: { release?: unknown; attempt?: unknown } } | null)?.ci_runner;
  return mark?.release === release && mark.attempt === attempt;
}

/** The token may not touch deployments: 403 that is no rate limit, or the 404 GitHub gives a token without access. */
function refused(error: unknown): boolean {
  const status = statusOf(error);
  return (status === 403 && !isRateLimit(error)) || status === 404;
}
