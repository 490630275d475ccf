import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { githubRepo } from "../../../src/adapters/github/octokit.ts";
import { GitHubSource } from "../../../src/adapters/github/source.ts";
import { ConfigError, TransientError } from "../../../src/errors.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";
import { testLog } from "../../support/pass-context.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const PATH = "/repos/acme/shop/commits/main";
const server = strictServerPerTest();

// Octokit must go through our HTTP client (http/transport.ts), never the global fetch:
// every test here fails if it does not.
beforeEach(() => {
  vi.stubGlobal("fetch", () => { throw new Error("the global fetch was used instead of the node:https transport"); });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

function github(token?: string, retries = 0) {
  return new GitHubSource(githubRepo({ baseUrl: server.url, owner: "acme", repo: "shop", auth: { token: async () => token }, log: testLog(), retries }), "main");
}

describe("GitHub branch head", () => {
  it("asks for the SHA only and keeps the ETag", async () => {
    server.expect({
      method: "GET", path: PATH,
      check: (r) => {
        expect(r.headers.accept).toBe("application/vnd.github.sha");
        expect(r.headers["if-none-match"]).toBeUndefined();
        expect(r.headers.authorization).toBeUndefined();
      },
      reply: { status: 200, headers: { etag: '"v1"', "content-type": "application/vnd.github.sha" }, body: SHA },
    });
    expect(await github().branchHead(undefined)).toEqual({ sha: SHA, etag: '"v1"', notModified: false });
    server.verify();
  });

  it("an unchanged head is a 304 to a conditional request", async () => {
    server.expect({ method: "GET", path: PATH, check: (r) => expect(r.headers["if-none-match"]).toBe('"v1"'), reply: { status: 304, headers: { etag: '"v1"' } } });
    expect(await github().branchHead({ sha: SHA, etag: '"v1"' })).toEqual({ sha: SHA, etag: '"v1"', notModified: true });
    server.verify();
  });

  it("sends the token as a header, never in the URL", async () => {
    server.expect({ method: "GET", path: PATH, check: (r) => expect(r.headers.authorization).toBe("token tkn_secret123456"), reply: { status: 200, headers: { etag: '"v2"' }, body: SHA } });
    await github("tkn_secret123456").branchHead(undefined);
    expect(server.seen[0]?.url).not.toContain("tkn_");
    server.verify();
  });

  it("a missing branch is a config error naming it", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 404, body: { message: "Not Found" } } });
    const error = await github().branchHead(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^branch main of acme\/shop was not found/);
    expect((error as ConfigError).remedy).toMatch(/private repository needs GIT_TOKEN/);
    server.verify();
  });

  it("a rejected token is a config error", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 401, body: { message: "Bad credentials" } } });
    const error = await github("tkn_revoked0000").branchHead(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/GitHub rejected GIT_TOKEN/);
    expect((error as Error).message).not.toContain("tkn_revoked0000");
    server.verify();
  });

  it("an exhausted rate limit far in the future is left to the next tick", async () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    server.expect({ method: "GET", path: PATH, reply: { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }, body: { message: "API rate limit exceeded" } } });
    const error = await github().branchHead(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/rate limit/);
    server.verify();
  });

  it("honours Retry-After of a secondary rate limit, once", async () => {
    server.expect(
      { method: "GET", path: PATH, reply: { status: 403, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit" } } },
      { method: "GET", path: PATH, reply: { status: 200, headers: { etag: '"v3"' }, body: SHA } },
    );
    const started = Date.now();
    expect((await github().branchHead(undefined)).sha).toBe(SHA);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    server.verify();
  });

  it("a secondary rate limit answered to a conditional request is waited out, then the 304 still counts as unchanged", async () => {
    const conditional = (r: { headers: Record<string, unknown> }) => expect(r.headers["if-none-match"]).toBe('"v1"');
    server.expect(
      { method: "GET", path: PATH, check: conditional, reply: { status: 403, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit" } } },
      { method: "GET", path: PATH, check: conditional, reply: { status: 304, headers: { etag: '"v1"' } } },
    );
    expect(await github().branchHead({ sha: SHA, etag: '"v1"' })).toEqual({ sha: SHA, etag: '"v1"', notModified: true });
    server.verify();
  });

  it("the retry plugin repeats a server error through the transport", async () => {
    server.expect(
      { method: "GET", path: PATH, reply: { status: 502, body: "bad gateway" } },
      { method: "GET", path: PATH, reply: { status: 200, headers: { etag: '"v4"', "content-type": "application/vnd.github.sha" }, body: SHA } },
    );
    expect(await github(undefined, 1).branchHead(undefined)).toEqual({ sha: SHA, etag: '"v4"', notModified: false });
    server.verify();
  });

  it("a 403 that is not a rate limit is a permission problem naming the token's missing access", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 403, headers: { "x-ratelimit-remaining": "4999" }, body: { message: "Resource not accessible by personal access token" } } });
    const error = await github("tkn_readonly0000").branchHead(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`GitHub refused GIT_TOKEN access to acme/shop@main at ${server.url} (403, not a rate limit)`);
    expect((error as ConfigError).remedy).toMatch(/read access to the repository contents/);
    server.verify();
  });

  it("an anonymous 403 that is not a rate limit asks for GIT_TOKEN", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 403, body: { message: "Forbidden" } } });
    const error = await github().branchHead(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).remedy).toBe("set GIT_TOKEN to a token with read access to the repository contents");
    server.verify();
  });

  it("a secondary rate limit too long to wait for, and a bare 429, are left to the next tick", async () => {
    server.expect(
      { method: "GET", path: PATH, reply: { status: 403, headers: { "retry-after": "3600" }, body: { message: "You have exceeded a secondary rate limit" } } },
      { method: "GET", path: PATH, reply: { status: 429, body: { message: "Too many requests" } } },
    );
    await expect(github().branchHead(undefined)).rejects.toThrow(/^GitHub rate limit reached reading .* \(403\)$/);
    await expect(github().branchHead(undefined)).rejects.toThrow(/^GitHub rate limit reached reading .* \(429\)$/);
    server.verify();
  });

  it("a server error is transient", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 502, body: "bad gateway" } });
    await expect(github().branchHead(undefined)).rejects.toBeInstanceOf(TransientError);
    server.verify();
  });

  it("an answer that is not a SHA is refused", async () => {
    server.expect({ method: "GET", path: PATH, reply: { status: 200, headers: { etag: '"x"' }, body: "<html>proxy login</html>" } });
    await expect(github().branchHead(undefined)).rejects.toThrow(/something other than a commit SHA/);
    server.verify();
  });
});
