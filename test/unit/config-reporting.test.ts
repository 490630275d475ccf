import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.ts";
import type { ConfigError } from "../../src/errors.ts";

const valid = { REPO: "acme/shop", IMAGE: "ghcr.io/acme/shop", CHART_PATH: "chart", RELEASE: "shop", DEPLOY_NS: "prod" };
const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, {});
  } catch (error) {
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe("reporting and GitHub App settings", () => {
  it("every receiver is off unless configured; the environment defaults to DEPLOY_NS/RELEASE", () => {
    const config = loadConfig(valid, {});
    expect(config.githubApp).toBeUndefined();
    expect(config.reporting).toEqual({ githubDeployments: false, githubEnvironment: "prod/shop", githubEnvironmentUrl: undefined, kubeEvents: false, webhook: undefined, pushgatewayUrl: undefined });
  });

  it("reads each receiver's settings", () => {
    const config = loadConfig({ ...valid, GIT_TOKEN: "tkn_abcdef123456", GIT_TOKEN_SECRET: "git-token", GITHUB_DEPLOYMENTS: "true", GITHUB_ENVIRONMENT: "production",
      GITHUB_ENVIRONMENT_URL: "https://shop.example.com", KUBE_EVENTS: "true", WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/xyz", WEBHOOK_FORMAT: "slack",
      PUSHGATEWAY_URL: "http://pushgateway.monitoring:9091/" }, {});
    expect(config.reporting).toEqual({ githubDeployments: true, githubEnvironment: "production", githubEnvironmentUrl: "https://shop.example.com", kubeEvents: true,
      webhook: { url: "https://hooks.slack.com/services/T0/B0/xyz", format: "slack" }, pushgatewayUrl: "http://pushgateway.monitoring:9091" });
  });

  it("a GitHub App: id and PEM key, with literal \\n accepted for newlines", () => {
    const config = loadConfig({ ...valid, GITHUB_APP_ID: "12345", GITHUB_APP_PRIVATE_KEY: KEY.replace(/\n/g, "\\n") }, {});
    expect(config.githubApp).toEqual({ appId: 12345, privateKey: KEY.trim() });
    expect(config.gitToken).toBeUndefined();
  });

  it("refuses half an App, two credentials, and deployments without a credential; never echoes the key", () => {
    expect(problems({ ...valid, GITHUB_APP_ID: "1" })).toEqual([expect.stringMatching(/GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY go together/)]);
    expect(problems({ ...valid, GITHUB_APP_ID: "1", GITHUB_APP_PRIVATE_KEY: KEY, GIT_TOKEN: "tkn_abcdef123456", GIT_TOKEN_SECRET: "t" })).toEqual([expect.stringMatching(/use one credential/)]);
    expect(problems({ ...valid, GITHUB_DEPLOYMENTS: "true" })).toEqual([expect.stringMatching(/GITHUB_DEPLOYMENTS=true needs a credential/)]);
    const bad = problems({ ...valid, GITHUB_APP_ID: "1", GITHUB_APP_PRIVATE_KEY: "not-a-key-secret-value" });
    expect(bad).toContainEqual(expect.stringMatching(/^GITHUB_APP_PRIVATE_KEY=\(hidden\) is invalid/));
    expect(bad.join()).not.toContain("not-a-key-secret-value");
  });

  it("refuses a webhook or Pushgateway URL that is not http(s), and credentials in the Pushgateway URL", () => {
    expect(problems({ ...valid, WEBHOOK_URL: "ftp://x/y", WEBHOOK_FORMAT: "teams" })).toHaveLength(2);
    expect(problems({ ...valid, PUSHGATEWAY_URL: "http://user:pw@pg:9091" })).toEqual([expect.stringMatching(/PUSHGATEWAY_URL=.*must not carry credentials/)]);
  });

  it("status does without an invalid App credential, with a warning", () => {
    const config = loadConfig({ RELEASE: "shop", GITHUB_APP_ID: "x", GITHUB_APP_PRIVATE_KEY: "nope" }, {}, "status");
    expect(config.githubApp).toBeUndefined();
    expect(config.warnings).toHaveLength(2);
  });
});
