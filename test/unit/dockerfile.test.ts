import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// No Docker engine runs here, so the image is never built in the tests: this checks what can be
// checked from the Dockerfile itself.
const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8");
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  devDependencies: Record<string, string>; engines: { node: string }; config: { helmVersion: string };
};
const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile)?.[1];

describe("Dockerfile", () => {
  it("uses the Node 24 that package.json runs the scripts and tests on", () => {
    expect(arg("NODE_VERSION")).toBe(pkg.devDependencies.node);
    expect(pkg.engines.node).toMatch(/^>=24 /);
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim$/m);
  });

  it("pins the Helm 4 that package.json names (the real-cluster suite checks the tested binary is that version)", () => {
    expect(arg("HELM_VERSION")).toBe(pkg.config.helmVersion);
    expect(pkg.config.helmVersion.startsWith("4.")).toBe(true);
  });

  it("runs the bundle as ENTRYPOINT, as a non-root numeric user", () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/ci-runner.js"\]$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/dist\/ci-runner.mjs \.\/dist\/ci-runner.mjs$/m);
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    expect(dockerfile.lastIndexOf("USER ")).toBeGreaterThan(dockerfile.lastIndexOf("RUN "));
  });

  it("ships no dev dependencies or sources in the final stage", () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(final).not.toMatch(/npm (ci|install)/);
    expect(final).not.toMatch(/COPY (src|node_modules)/);
  });

  it("keeps writes under /tmp for a read-only root filesystem", () => {
    for (const v of ["HOME=/tmp", "HELM_CACHE_HOME=/tmp/", "HELM_CONFIG_HOME=/tmp/", "HELM_DATA_HOME=/tmp/"]) expect(dockerfile).toContain(v);
  });
});
