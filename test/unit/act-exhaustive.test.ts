import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * `act` must be exhaustive by construction: the compiler, not a reviewer, refuses a new action
 * kind that has no handler. Proven by compiling a copy of src/ with one more kind added.
 */
describe("act handles every action kind", () => {
  const dir = mkdtempSync(join(tmpdir(), "ci-runner-exhaustive-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function typecheck(): { ok: boolean; output: string } {
    try {
      execFileSync(join(ROOT, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", dir], { encoding: "utf8", stdio: "pipe" });
      return { ok: true, output: "" };
    } catch (error) {
      return { ok: false, output: String((error as { stdout?: string }).stdout ?? error) };
    }
  }

  it("a copy of src/ compiles as is, and not once a kind without a handler is added", () => {
    cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const config = JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")) as { include: string[] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...config, include: ["src"] }));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    expect(typecheck()).toEqual({ ok: true, output: "" });

    const types = join(dir, "src", "reconcile", "types.ts");
    const source = readFileSync(types, "utf8");
    const marker = "export type WorkAction =\n";
    expect(source).toContain(marker);
    writeFileSync(types, source.replace(marker, `${marker}  | { readonly kind: "new-kind-without-handler"; readonly sha: string }\n`));
    const broken = typecheck();
    expect(broken.ok).toBe(false);
    expect(broken.output).toMatch(/src\/reconcile\/act\.ts.*new-kind-without-handler/s);
  });
});
