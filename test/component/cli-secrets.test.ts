import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli.ts";

const TOKEN = "tkn_usage0123456789abcdef";

async function cli(argv: string[], env: Record<string, string>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const makeRuntime = () => { throw new Error("a usage error must stop before any adapter is made"); };
  const code = await runCli(argv, { env, stdout: (t) => void stdout.push(t), stderr: (t) => void stderr.push(t), stderrIsTTY: false, version: "0.0.0-test", stop: new AbortController().signal, makeRuntime });
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

describe("usage errors are scrubbed like every other output", () => {
  it("a token pasted into a setting is not echoed back in the configuration error", async () => {
    const url = `https://x-access-token:${TOKEN}@github.com/acme/shop.git`;
    const result = await cli(["sync", "--once"], { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", REPO: url, IMAGE: "ghcr.io/acme/shop", CHART_PATH: "chart", RELEASE: "shop" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ci-runner: /);
    expect(result.stderr).toContain("REPO=");
    expect(result.stderr).toContain("[REDACTED]");
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.stdout).toBe("");
  });

  it("a token given as an argument is not echoed back by the argument error", async () => {
    const result = await cli(["retry", "abc", TOKEN, "--release", "shop"], { GIT_TOKEN: TOKEN });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain(TOKEN);
  });
});
