import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const readme = read("README.md");

describe("README's set-up states exactly what the machine needs", () => {
  it("names the Go version that the control plane's go.mod asks for", () => {
    const goMod = read("tools/k8s-testenv/go.mod").match(/^go (\S+)$/m)?.[1];
    expect(goMod).toBeDefined();
    expect(readme.match(/Go >= (\S+?)[\s(]/g)).toEqual([`Go >= ${goMod} `]);
  });

  it("names every Debian package scripts/host-tools.sh installs", () => {
    const list = read("scripts/host-tools.sh").match(/^PACKAGES=\(\n([\s\S]*?)\n\)/m)?.[1] ?? "";
    const packages = [...list.matchAll(/([\w.+-]+):\S+/g)].map((m) => m[1]);
    expect(packages.length).toBeGreaterThan(10);
    for (const pkg of packages) expect(readme, `README does not name ${pkg}`).toContain(pkg);
  });
});
