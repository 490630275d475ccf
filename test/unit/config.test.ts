import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";

const valid = { REPO: "acme/shop", IMAGE: "ghcr.io/acme/shop", CHART_PATH: "deploy/chart", RELEASE: "shop" };

function problems(env: Record<string, string>, flags: Record<string, unknown> = {}, requirement: "sync" | "status" = "sync"): string[] {
  try {
    loadConfig(env, flags, requirement);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies the original design's defaults", () => {
    const config = loadConfig(valid, {});
    expect(config).toMatchObject({
      repo: { owner: "acme", name: "shop" }, branch: "main", cicdNamespace: "cicd", deployNamespace: "default",
      intervalSeconds: 300, maxRetries: 3, githubApiUrl: "https://api.github.com", gitUrl: "https://github.com/acme/shop.git",
      imageRepositoryKey: "image.repository", imageTagKey: "image.tag", valuesFiles: [], helmTimeoutSeconds: 300,
      buildTimeoutSeconds: 1200, stateConfigMap: "ci-runner-shop", helmBin: "helm", registryInsecure: false,
    });
  });

  it("a flag beats its variable", () => {
    const config = loadConfig({ ...valid, BRANCH: "develop", MAX_RETRIES: "5" }, { branch: "release/1.x", maxRetries: "2" });
    expect(config.branch).toBe("release/1.x");
    expect(config.maxRetries).toBe(2);
  });

  it("parses durations, lists and URLs", () => {
    const config = loadConfig({ ...valid, INTERVAL: "1m", HELM_TIMEOUT: "90s", BUILD_TIMEOUT: "1h", VALUES_FILES: "a.yaml, env/dev.yaml",
      GITHUB_API_URL: "https://ghe.example.com/api/v3/", REGISTRY_INSECURE: "true" }, {});
    expect(config).toMatchObject({ intervalSeconds: 60, helmTimeoutSeconds: 90, buildTimeoutSeconds: 3600, valuesFiles: ["a.yaml", "env/dev.yaml"],
      githubApiUrl: "https://ghe.example.com/api/v3", registryInsecure: true });
  });

  it("lists every missing required setting at once", () => {
    expect(problems({})).toEqual([
      expect.stringMatching(/^REPO \(or --repo\) is required/),
      expect.stringMatching(/^IMAGE \(or --image\) is required/),
      expect.stringMatching(/^CHART_PATH \(or --chart-path\) is required/),
      expect.stringMatching(/^RELEASE \(or --release\) is required/),
    ]);
  });

  it("status needs only the release", () => {
    expect(loadConfig({ RELEASE: "shop" }, {}, "status").release).toBe("shop");
    expect(problems({}, {}, "status")).toEqual([expect.stringMatching(/^RELEASE/)]);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["repo without owner", { REPO: "shop" }, /^REPO="shop" is invalid: expected GitHub repository as owner\/name/],
    ["image with a tag", { IMAGE: "ghcr.io/acme/shop:latest" }, /^IMAGE="ghcr.io\/acme\/shop:latest" is invalid/],
    ["uppercase release", { RELEASE: "Shop" }, /^RELEASE="Shop" is invalid/],
    ["release too long", { RELEASE: "a".repeat(54) }, /^RELEASE=.* is invalid.*\(Too big/i],
    ["absolute chart path", { CHART_PATH: "/etc/chart" }, /^CHART_PATH="\/etc\/chart" is invalid.*must stay inside the repository/],
    ["chart path escaping the repository", { CHART_PATH: "../x" }, /^CHART_PATH="..\/x" is invalid/],
    ["zero retries", { MAX_RETRIES: "0" }, /^MAX_RETRIES="0" is invalid: expected attempts per commit/],
    ["retries not a number", { MAX_RETRIES: "three" }, /^MAX_RETRIES="three" is invalid/],
    ["interval too short", { INTERVAL: "2" }, /^INTERVAL="2" is invalid/],
    ["interval with a unit we do not know", { INTERVAL: "5d" }, /^INTERVAL="5d" is invalid/],
    ["bad namespace", { CICD_NS: "CI_CD" }, /^CICD_NS="CI_CD" is invalid/],
    ["bad API URL", { GITHUB_API_URL: "ftp://x" }, /^GITHUB_API_URL="ftp:\/\/x" is invalid/],
    ["credentials in the git URL", { GIT_URL: "https://user:pw@github.com/acme/shop.git" }, /^GIT_URL=.* is invalid.*must not carry credentials/],
    ["bad log format", { LOG_FORMAT: "xml" }, /^LOG_FORMAT="xml" is invalid/],
    ["bad bool", { REGISTRY_INSECURE: "yes" }, /^REGISTRY_INSECURE="yes" is invalid/],
    ["bad values key", { IMAGE_TAG_KEY: "image..tag" }, /^IMAGE_TAG_KEY="image..tag" is invalid/],
  ];
  it.each(bad)("reports %s, naming the variable and the expected form", (_name, env, pattern) => {
    const found = problems({ ...valid, ...env });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(pattern);
  });

  it("names the flag when the bad value came from a flag", () => {
    expect(problems(valid, { maxRetries: "-1" })).toEqual([expect.stringMatching(/^--max-retries="-1" is invalid/)]);
  });

  it("never echoes a secret, even when it is invalid", () => {
    const found = problems({ ...valid, GIT_TOKEN: "tkn_secret value" });
    expect(found.join("\n")).not.toContain("tkn_secret");
    expect(found[0]).toMatch(/^GIT_TOKEN=\(hidden\) is invalid/);
  });

  it("validates the token only for commands that use it: status and retry leave a malformed one unused, with a warning", () => {
    const config = loadConfig({ RELEASE: "shop", GIT_TOKEN: "tkn_secret value" }, {}, "status");
    expect(config.gitToken).toBeUndefined();
    expect(config.warnings).toEqual([expect.stringMatching(/^GIT_TOKEN=\(hidden\) is invalid: .*\(must not contain white space\); not used by this command$/)]);
    expect(config.warnings.join("")).not.toContain("tkn_secret");
    expect(loadConfig({ RELEASE: "shop", GIT_TOKEN: "tkn_fine_123" }, {}, "status").gitToken).toBe("tkn_fine_123");
    expect(problems({ ...valid, GIT_TOKEN: "tkn_secret value", GIT_TOKEN_SECRET: "git-token" })).toEqual([expect.stringMatching(/^GIT_TOKEN=\(hidden\) is invalid/)]);
  });

  it("has no warnings when every setting is valid", () => {
    expect(loadConfig(valid, {}).warnings).toEqual([]);
  });

  it("requires a Secret reference for the build pod when a token is set", () => {
    const found = problems({ ...valid, GIT_TOKEN: "tkn_abcdef123456" });
    expect(found).toEqual([expect.stringMatching(/^GIT_TOKEN is set but GIT_TOKEN_SECRET is not/)]);
    expect(found.join("")).not.toContain("tkn_abcdef123456");
    expect(loadConfig({ ...valid, GIT_TOKEN: "tkn_abcdef123456", GIT_TOKEN_SECRET: "git-token" }, {}).gitToken).toBe("tkn_abcdef123456");
  });

  it("reports several problems together", () => {
    expect(problems({ ...valid, REPO: "x", MAX_RETRIES: "0", LOG_LEVEL: "loud" })).toHaveLength(3);
  });
});

describe("build settings", () => {
  it("refuses malformed build settings, each named", () => {
    expect(() => loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BUILD_ARGS: "1BAD=x", SNAPSHOT_MODE: "fast", BUILD_MEMORY_LIMIT: "lots" }, {}))
      .toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^BUILD_ARGS="1BAD=x" is invalid/), expect.stringMatching(/^SNAPSHOT_MODE="fast" is invalid/), expect.stringMatching(/^BUILD_MEMORY_LIMIT="lots" is invalid/)] }));
  });
});

describe("VERIFY", () => {
  const base = { REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop" };
  it("is off unless given; helm-test turns on the chart's tests", () => {
    expect(loadConfig(base, {}).verify).toEqual({ helmTest: false });
    expect(loadConfig({ ...base, VERIFY: "helm-test" }, {}).verify).toEqual({ helmTest: true });
  });
  it("refuses a check it does not know, naming the setting and the one it takes", () => {
    expect(() => loadConfig({ ...base, VERIFY: "helm-tests" }, {}))
      .toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^VERIFY="helm-tests" is invalid.*helm-test/)] }));
  });
});
