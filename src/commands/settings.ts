import { REQUIRED } from "../config/load.ts";
import { SETTINGS } from "../config/settings.ts";

/**
 * Every setting from the one table in settings.ts: variable, flag, default and the form expected.
 * `ci-runner settings` prints it and `ci-runner help settings` shows it; config errors point here.
 */
export function settingsHelp(): string {
  const lines = [
    "Settings: each is an environment variable and a flag (a flag beats its variable).",
    `Required: ${REQUIRED.sync.map(envOf).join(", ")} (status and retry need only ${REQUIRED.status.map(envOf).join(", ")}).`,
    "",
  ];
  for (const s of SETTINGS) {
    const flag = s.flag === undefined ? "(environment only)" : s.flag;
    const fallback = s.fallback ? `  [default: ${s.fallback}]` : "";
    lines.push(`  ${s.env}  ${flag}${fallback}`, `      ${s.form}`);
  }
  return `${lines.join("\n")}\n`;
}

function envOf(key: string): string {
  return SETTINGS.find((s) => s.key === key)?.env ?? key;
}
