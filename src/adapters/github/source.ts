import { z } from "zod";
import { TransientError } from "../../errors.ts";
import type { BranchHead, SourceHost } from "../../reconcile/ports.ts";
import { credentialName, githubError, type GitHubRepo, statusOf } from "./octokit.ts";

const ShaResponse = z.string().trim().regex(/^[0-9a-f]{40}$/);

/**
 * The branch head over GitHub's REST API. A conditional request with the ETag remembered from the
 * last tick: an unchanged head is a 304, which GitHub does not count against the rate limit.
 */
export class GitHubSource implements SourceHost {
  readonly #o: { readonly repo: GitHubRepo; readonly branch: string };

  constructor(repo: GitHubRepo, branch: string) {
    this.#o = { repo, branch };
  }

  async branchHead(known: { sha: string; etag: string } | undefined): Promise<BranchHead> {
    const { owner, repo, octokit } = this.#o.repo;
    const { branch } = this.#o;
    try {
      const response = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}", {
        owner, repo, ref: branch,
        headers: { accept: "application/vnd.github.sha", ...(known ? { "if-none-match": known.etag } : {}) },
      });
      const sha = ShaResponse.safeParse(asText(response.data));
      if (!sha.success) throw new TransientError(`GitHub answered the head of ${owner}/${repo}@${branch} with something other than a commit SHA`, "the next tick asks again");
      return { sha: sha.data, etag: response.headers.etag, notModified: false };
    } catch (error) {
      if (statusOf(error) === 304 && known) return { sha: known.sha, etag: known.etag, notModified: true };
      throw await this.#translate(error);
    }
  }

  async #translate(error: unknown): Promise<Error> {
    const { owner, repo, baseUrl, auth } = this.#o.repo;
    const { branch } = this.#o;
    const where = `${owner}/${repo}@${branch} at ${baseUrl}`;
    const credential = await credentialName(auth);
    return githubError(error, {
      what: `reading ${where}`,
      unauthorized: { message: `GitHub rejected GIT_TOKEN reading ${where} (401)`, remedy: "create a new token with read access to the repository contents and store it in the token Secret" },
      refused: {
        message: `GitHub refused ${credential} access to ${where} (403, not a rate limit)`,
        remedy: credential === "GIT_TOKEN" ? "give the token read access to the repository contents (fine-grained: Contents read-only; classic: repo), and authorize it for the organization's SSO if it has one" : "set GIT_TOKEN to a token with read access to the repository contents",
      },
      notFound: {
        message: `branch ${branch} of ${owner}/${repo} was not found at ${baseUrl} (${statusOf(error)})`,
        remedy: credential === "GIT_TOKEN" ? "check REPO and BRANCH, and that GIT_TOKEN can read the repository" : "check REPO and BRANCH; a private repository needs GIT_TOKEN",
      },
    });
  }
}

/** The sha media type comes back as text or, without a charset, as bytes. */
function asText(data: unknown): unknown {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return Buffer.from(data as ArrayBuffer).toString("utf8");
  return data;
}
