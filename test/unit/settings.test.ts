import { describe, expect, it } from "vitest";
import { SETTING_KEYS } from "../../src/config/load.ts";
import { SETTINGS } from "../../src/config/settings.ts";

/** settings.json is data the compiler does not see: its rows are held to the Setting shape here. */
describe("the settings table", () => {
  it("has one row for every setting key and no other", () => {
    expect(SETTINGS.map((s) => s.key).sort()).toEqual([...SETTING_KEYS].sort());
  });

  it("each row has exactly the known fields, of the right types", () => {
    for (const row of SETTINGS) {
      expect(Object.keys(row).filter((k) => !["key", "env", "flag", "fallback", "secret", "form"].includes(k)), row.key).toEqual([]);
      expect(typeof row.env === "string" && typeof row.form === "string" && row.form.length > 0, row.key).toBe(true);
      for (const field of ["flag", "fallback"] as const) if (row[field] !== undefined) expect(typeof row[field], `${row.key}.${field}`).toBe("string");
      if (row.secret !== undefined) expect(row.secret, row.key).toBe(true);
    }
  });

  it("variables and flags are unique, flags are long options, and a secret has no flag", () => {
    const envs = SETTINGS.map((s) => s.env);
    const flags = SETTINGS.flatMap((s) => (s.flag ? [s.flag] : []));
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(flags).size).toBe(flags.length);
    for (const flag of flags) expect(flag).toMatch(/^--[a-z][a-z0-9-]*$/);
    for (const s of SETTINGS.filter((x) => x.secret)) expect(s.flag, s.key).toBeUndefined();
    for (const env of envs) expect(env).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });
});
