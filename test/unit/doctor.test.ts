import { describe, expect, it } from "vitest";
import { runDoctor } from "../../src/commands/doctor.ts";
import { ConfigError } from "../../src/errors.ts";

describe("doctor report", () => {
  it("runs every check even after a failure, prints ok/FAIL with the fix, and exits 2 when any failed", async () => {
    const out: string[] = [];
    const code = await runDoctor([
      { name: "First", run: async () => ({ ok: true, detail: "fine" }) },
      { name: "Second", run: async () => { throw new ConfigError("registry secret cicd/x does not exist", "create it"); } },
      { name: "Third", run: async () => ({ ok: false, problem: "missing get pods", fix: "kubectl apply -k manifests/" }) },
      { name: "Fourth", run: async () => ({ ok: true, detail: "also fine" }) },
    ], (t) => out.push(t));
    expect(code).toBe(2);
    expect(out.join("")).toBe([
      "ok    First: fine",
      "FAIL  Second: registry secret cicd/x does not exist",
      "      fix: create it",
      "FAIL  Third: missing get pods",
      "      fix: kubectl apply -k manifests/",
      "ok    Fourth: also fine",
      "Some checks failed: fix them, then run `ci-runner doctor` again.",
      "",
    ].join("\n"));
  });

  it("exits 0 when all pass", async () => {
    const out: string[] = [];
    expect(await runDoctor([{ name: "Only", run: async () => ({ ok: true, detail: "fine" }) }], (t) => out.push(t))).toBe(0);
    expect(out.at(-1)).toBe("All checks passed.\n");
  });
});
