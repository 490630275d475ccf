import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.ts";
import { describePermission, requiredPermissions } from "../../src/permissions.ts";

const base = { REPO: "acme/app", IMAGE: "ghcr.io/acme/app", CHART_PATH: "chart", RELEASE: "app", DEPLOY_NS: "app" };

describe("permissions of the receivers and the rollback evidence", () => {
  it("the rollout watch's and the evidence's reads in DEPLOY_NS are always asked for, and marked best effort", () => {
    // Best effort: a helm failure is never blamed on them (the commit's attempt is counted).
    const needed = requiredPermissions(loadConfig(base, {})).filter((p) => p.bestEffort).map(describePermission);
    expect(needed).toEqual(["list pods in namespace app", "list events in namespace app", "get pods/log in namespace app"]);
  });

  it("creating Events in CICD_NS only with KUBE_EVENTS=true", () => {
    const names = (env: Record<string, string>) => requiredPermissions(loadConfig({ ...base, ...env }, {})).map(describePermission);
    expect(names({})).not.toContain("create events in namespace cicd");
    expect(names({ KUBE_EVENTS: "true" })).toContain("create events in namespace cicd");
  });
});
