import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../src/errors.ts";
import { SETTINGS } from "../../src/config/settings.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const reference = readFileSync(new URL("../../docs/reference.md", import.meta.url), "utf8");

describe("README and the reference", () => {
  it.each(SETTINGS.map((s) => [s.env, s] as const))("documents %s with its flag and default", (env, setting) => {
    const row = reference.split("\n").find((line) => line.startsWith(`| \`${env}\` |`));
    expect(row, `docs/reference.md has no row for ${env}`).toBeDefined();
    expect(row).toContain(setting.flag ? `\`${setting.flag}\`` : "(environment only)");
    if (setting.fallback) expect(row).toContain(`\`${setting.fallback}\``);
  });

  it("documents every exit code", () => {
    for (const code of Object.values(EXIT_CODES)) expect(reference).toMatch(new RegExp(`^\\| ${code} \\|`, "m"));
  });

  it("gives the test command that .ci/run calls", () => {
    expect(readme).toContain("npm test");
    expect(readFileSync(new URL("../../.ci/run", import.meta.url), "utf8")).toMatch(/^npm test$/m);
  });
});

it("every page the README links to exists", () => {
  for (const [, path] of readme.matchAll(/\]\((docs\/[\w.-]+\.md)\)/g)) expect(existsSync(new URL(`../../${path}`, import.meta.url)), path).toBe(true);
});
