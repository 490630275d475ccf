import { EXIT_CODES, type ExitCode } from "../errors.ts";

export type CheckResult = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly problem: string; readonly fix: string };

export interface Check {
  readonly name: string;
  /** What to do when `run` throws an error that carries no remedy of its own. */
  readonly fix: string;
  run(): Promise<CheckResult>;
}

/** Turns a thrown error into a failed check: its message is the problem, its remedy the fix. */
function failed(error: unknown, fallbackFix: string): CheckResult {
  const message = error instanceof Error ? error.message : String(error);
  const remedy = (error as { remedy?: string }).remedy;
  return { ok: false, problem: message, fix: remedy ?? fallbackFix };
}

/**
 * A preflight after installing or when a tick fails: every check prints ok or the problem with
 * the command that fixes it. All run, even after a failure; the exit code says whether all passed.
 */
export async function runDoctor(checks: readonly Check[], out: (text: string) => void): Promise<ExitCode> {
  let allOk = true;
  for (const check of checks) {
    const result = await check.run().catch((error: unknown) => failed(error, check.fix));
    if (result.ok) {
      out(`ok    ${check.name}: ${result.detail}\n`);
    } else {
      allOk = false;
      out(`FAIL  ${check.name}: ${result.problem}\n      fix: ${result.fix}\n`);
    }
  }
  out(allOk ? "All checks passed.\n" : "Some checks failed: fix them, then run `ci-runner doctor` again.\n");
  return allOk ? EXIT_CODES.ok : EXIT_CODES.config;
}
