import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GitChartSource } from "../../../src/adapters/chart/source.ts";
import { createExec, type Exec } from "../../../src/adapters/exec.ts";
import { AttemptFailure } from "../../../src/errors.ts";
import { Secrets } from "../../../src/log.ts";
import { childEnv } from "../../../src/wiring/child-env.ts";
import { gitRepo, SAMPLE_CHART } from "../../support/git-repo.ts";

function source(gitUrl: string, valuesFiles: string[] = [], tmp?: string) {
  return new GitChartSource({ gitUrl: `file://${gitUrl}`, chartPath: "chart", valuesFiles, auth: { token: async () => undefined }, exec: createExec(childEnv(process.env), new Secrets()), ...(tmp ? { tmp } : {}) });
}

describe("chart checkout with real git", () => {
  it("checks out the chart and values files exactly at the SHA, and nothing else", async () => {
    const repo = gitRepo();
    const first = repo.commit({ ...SAMPLE_CHART, "src/big.bin": "x".repeat(10_000), "env/dev.yaml": "replicas: 1\n" });
    repo.commit({ "chart/values.yaml": "image:\n  tag: second\n" });
    const checkout = await source(repo.bare, ["env/dev.yaml"]).checkout(first);
    expect(readFileSync(join(checkout.chartDir, "values.yaml"), "utf8")).toContain("tag: latest");
    expect(existsSync(join(checkout.root, "env/dev.yaml"))).toBe(true);
    expect(existsSync(join(checkout.root, "src/big.bin"))).toBe(false);
    await checkout.dispose();
    expect(existsSync(checkout.root)).toBe(false);
  });

  it("a commit without the chart is a failed attempt, and leaves no temp dir", async () => {
    const repo = gitRepo();
    const sha = repo.commit({ "README.md": "no chart here\n" });
    const error = await source(repo.bare).checkout(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toMatch(/has no Helm chart at CHART_PATH=chart/);
  });

  it("a missing values file is a failed attempt", async () => {
    const repo = gitRepo();
    const sha = repo.commit(SAMPLE_CHART);
    await expect(source(repo.bare, ["env/prod.yaml"]).checkout(sha)).rejects.toThrow(/no values file env\/prod.yaml/);
  });

  it("a prefetched checkout is handed to the deploy; a failed prefetch fails the checkout", async () => {
    const repo = gitRepo();
    const sha = repo.commit(SAMPLE_CHART);
    const tmp = mkdtempSync(join(tmpdir(), "charts-"));
    const charts = source(repo.bare, [], tmp);
    charts.prefetch(sha);
    charts.prefetch(sha); // idempotent
    const checkout = await charts.checkout(sha);
    expect(existsSync(join(checkout.chartDir, "Chart.yaml"))).toBe(true);
    await checkout.dispose();
    // A prefetch that is never deployed (its build failed) is removed when another SHA comes.
    const stale = repo.commit({ "chart/values.yaml": "stale: true\n" });
    charts.prefetch(stale);
    const newer = repo.commit({ "chart/values.yaml": "newer: true\n" });
    const kept = await charts.checkout(newer);
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(tmp).map((d) => join(tmp, d))).toEqual([kept.root]);
    await kept.dispose();
    const missing = "f".repeat(40);
    charts.prefetch(missing);
    await expect(charts.checkout(missing)).rejects.toThrow(/git fetch/);
  });
});

describe("a checkout that takes too long", () => {
  it("is the commit's failed attempt (counted, then set aside), never a transient error retried for ever", async () => {
    const real = createExec(childEnv(process.env), new Secrets());
    // Real git for every step, and a fetch that ran past its timeout, as one of gigabytes would.
    const slowFetch: Exec = async (file, args, options) => (args.includes("fetch") ? { exitCode: -1, stdout: "", stderr: "", timedOut: true } : real(file, args, options));
    const repo = gitRepo();
    const sha = repo.commit(SAMPLE_CHART);
    const charts = new GitChartSource({ gitUrl: `file://${repo.bare}`, chartPath: "chart", valuesFiles: [], auth: { token: async () => undefined }, exec: slowFetch });
    const error = await charts.checkout(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toMatch(/^git fetch of file:\S+ took longer than 120 s: the chart and values files at this commit are too large to fetch$/);
  });
});
