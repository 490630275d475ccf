import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// test/image/ builds this Dockerfile with buildah and runs the image (entrypoint, user, snapshot,
// behaviour). What that build cannot see is checked here: the versions it must agree with, and the
// `helm` stage, which that build replaces with a local image (no get.helm.sh here).
const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8");
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  devDependencies: Record<string, string>; engines: { node: string }; config: { helmVersion: string };
};
const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile)?.[1];
const stage = (name: string) => {
  const start = dockerfile.search(new RegExp(`^FROM \\S+ AS ${name}$`, "m"));
  const end = dockerfile.indexOf("\nFROM ", start + 1);
  return start < 0 ? "" : dockerfile.slice(start, end < 0 ? undefined : end);
};

describe("Dockerfile", () => {
  it("uses the Node 24 that package.json runs the scripts and tests on (the snapshot is tied to that binary)", () => {
    expect(arg("NODE_VERSION")).toBe(pkg.devDependencies.node);
    expect(pkg.engines.node).toMatch(/^>=24 /);
  });

  it("pins the Helm 4 that package.json names (the real-cluster suite checks the tested binary is that version)", () => {
    expect(arg("HELM_VERSION")).toBe(pkg.config.helmVersion);
    expect(pkg.config.helmVersion.startsWith("4.")).toBe(true);
  });

  it("fetches Helm for the target architecture and checks its sha256 before installing it", () => {
    const helm = stage("helm");
    expect(helm).toMatch(/^ARG TARGETARCH$/m);
    expect(helm).toContain("ADD https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz /tmp/helm.tgz");
    for (const [archName, argName] of [["amd64", "HELM_SHA256_AMD64"], ["arm64", "HELM_SHA256_ARM64"]]) {
      expect(arg(argName ?? "")).toMatch(/^[0-9a-f]{64}$/);
      expect(helm).toContain(`${archName}) sum="\${${argName}}" ;;`);
    }
    expect(helm).toMatch(/\*\) echo "no Helm checksum for architecture '\$\{TARGETARCH\}'" >&2; exit 1 ;;/);
    // The check runs before the archive is unpacked, in the same RUN, so a mismatch stops the build.
    const run = helm.slice(helm.indexOf("RUN "));
    expect(run.indexOf('sha256sum -c -')).toBeGreaterThan(0);
    expect(run.indexOf('sha256sum -c -')).toBeLessThan(run.indexOf("tar -xzf"));
  });

  it("ships no dev dependencies or sources in the final stage", () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(final).not.toMatch(/npm (ci|install)/);
    expect(final).not.toMatch(/COPY (src|node_modules)/);
  });

  it("keeps Helm's and git's writes under /tmp for a read-only root filesystem (the image test runs no helm)", () => {
    for (const v of ["HOME=/tmp", "HELM_CACHE_HOME=/tmp/", "HELM_CONFIG_HOME=/tmp/", "HELM_DATA_HOME=/tmp/"]) expect(dockerfile).toContain(v);
  });
});
