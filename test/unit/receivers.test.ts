import { describe, expect, it } from "vitest";
import { configuredReceivers } from "../../src/adapters/report/receivers.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger, Secrets } from "../../src/log.ts";
import { apis } from "../support/kube.ts";

const base = { REPO: "acme/app", IMAGE: "ghcr.io/acme/app", CHART_PATH: "chart", RELEASE: "app" };
const HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXsecretXXXX";

function receivers(env: Record<string, string>, secrets = new Secrets()) {
  const log = createLogger({ level: "info", pretty: false, secrets, write: () => undefined });
  return configuredReceivers({ config: loadConfig({ ...base, ...env }, {}), core: apis("http://127.0.0.1:1").core, log, secrets, github: { token: async () => undefined }, instance: "pod/1" });
}

describe("configured receivers", () => {
  it("none unless configured", () => {
    expect(receivers({})).toEqual([]);
  });

  it("each setting turns its receiver on", () => {
    expect(receivers({ GIT_TOKEN: "tkn_abcdef123456", GIT_TOKEN_SECRET: "t", GITHUB_DEPLOYMENTS: "true", KUBE_EVENTS: "true", WEBHOOK_URL: HOOK, PUSHGATEWAY_URL: "http://pg:9091" }).map((r) => r.name))
      .toEqual(["github-deployments", "kubernetes-events", "webhook", "pushgateway"]);
  });

  it("the webhook URL, and its secret path alone, are scrubbed from every line like a token", () => {
    const secrets = new Secrets();
    receivers({ WEBHOOK_URL: HOOK }, secrets);
    expect(secrets.scrub(`posting to ${HOOK} failed; path /services/T0000/B0000/XXXXsecretXXXX`)).toBe("posting to [REDACTED] failed; path [REDACTED]");
  });
});
