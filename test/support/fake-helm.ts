import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ToolStep {
  readonly argv: readonly string[];
  readonly stdout?: string;
  readonly stderr?: string;
  readonly exit?: number;
  /** Runs until SIGTERM, then writes stderr and exits with `exit`. */
  readonly untilTerm?: boolean;
  /** Answers after this long (a helm that waits until its timeout). */
  readonly afterMs?: number;
}

export const FAKE_TOOL = fileURLToPath(new URL("./fake-tool.mjs", import.meta.url));

/** Sets up the strict fake tool's script; `verify` fails on unexpected calls and unused steps. */
export function fakeTool(steps: readonly ToolStep[]) {
  const dir = mkdtempSync(join(tmpdir(), "fake-helm-"));
  const script = join(dir, "script.json");
  writeFileSync(script, JSON.stringify(steps));
  const read = (suffix: string) => (existsSync(`${script}.${suffix}`) ? readFileSync(`${script}.${suffix}`, "utf8") : "");
  return {
    env: { HELM_FAKE_SCRIPT: script },
    calls: () => read("calls").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; envKeys: string[] }),
    verify() {
      const problems = read("problems");
      const used = Number(read("cursor") || 0);
      rmSync(dir, { recursive: true, force: true });
      if (problems) throw new Error(problems);
      if (used !== steps.length) throw new Error(`fake tool: ${steps.length - used} expected call(s) never made`);
    },
  };
}
