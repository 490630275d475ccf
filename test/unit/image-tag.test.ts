import { describe, expect, it } from "vitest";
import { kanikoJob } from "../../src/adapters/build/job.ts";
import { loadConfig } from "../../src/config/load.ts";
import { branchTag } from "../../src/names.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
/** Docker's tag grammar. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

describe("branch alias tag", () => {
  it.each([
    ["main", "main-latest"],
    ["feature/x", "feature-x-latest"],
    ["release/1.x", "release-1.x-latest"],
  ])("%s -> %s", (branch, tag) => {
    expect(branchTag(branch)).toBe(tag);
  });

  it.each([
    ["the longest branch", "b".repeat(200)],
    ["a branch just over the limit", "c".repeat(122)],
    ["a leading dot", ".hidden/work"],
    ["a leading dash", "-x"],
    ["a leading underscore", "_wip"],
  ])("is a valid Docker tag for %s", (_name, branch) => {
    const tag = branchTag(branch);
    expect(tag).toMatch(TAG);
    expect(tag.endsWith("-latest")).toBe(true);
  });

  it("keeps long branches that share a prefix apart, and is stable", () => {
    const a = `${"feature/".repeat(20)}a`;
    const b = `${"feature/".repeat(20)}b`;
    expect(branchTag(a)).not.toBe(branchTag(b));
    expect(branchTag(a)).toBe(branchTag(a));
    expect(branchTag(".x")).not.toBe(branchTag("x"));
  });

  it("is the tag the build Job pushes", () => {
    const branch = `.team/${"very-long-topic-".repeat(10)}`;
    const config = loadConfig({ REPO: "acme/shop", IMAGE: "ghcr.io/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: branch }, {});
    const args = kanikoJob(config, SHA, 1).spec?.template.spec?.containers[0]?.args ?? [];
    expect(args).toContain(`--destination=ghcr.io/acme/shop:${branchTag(branch)}`);
    for (const destination of args.filter((a) => a.startsWith("--destination="))) expect(destination.split(":").at(-1)).toMatch(TAG);
  });
});
