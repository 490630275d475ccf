import { describe, expect, it } from "vitest";
import { runDoctor } from "../../src/commands/doctor.ts";
import { ConfigError } from "../../src/errors.ts";

describe("doctor report", () => {
  it("runs every check even after a failure, prints ok/FAIL with the fix, and exits 2 when any failed", async () => {
    const out: string[] = [];
    const code = await runDoctor([
      { name: "First", fix: "-", run: async () => ({ ok: true, detail: "fine" }) },
      { name: "Second", fix: "-", run: async () => { throw new ConfigError("registry secret cicd/x does not exist", "create it"); } },
      { name: "Third", fix: "-", run: async () => ({ ok: false, problem: "missing get pods", fix: "kubectl apply -k manifests/" }) },
      { name: "Fourth", fix: "-", run: async () => ({ ok: true, detail: "also fine" }) },
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

  it("a thrown error without a remedy gets the check's own fix", async () => {
    const out: string[] = [];
    await runDoctor([{ name: "Helm", fix: "install Helm 3 or 4", run: async () => { throw new Error("spawn helm ENOENT"); } }], (t) => out.push(t));
    expect(out[0]).toBe("FAIL  Helm: spawn helm ENOENT\n      fix: install Helm 3 or 4\n");
  });

  it("exits 0 when all pass", async () => {
    const out: string[] = [];
    expect(await runDoctor([{ name: "Only", fix: "-", run: async () => ({ ok: true, detail: "fine" }) }], (t) => out.push(t))).toBe(0);
    expect(out.at(-1)).toBe("All checks passed.\n");
  });
});
