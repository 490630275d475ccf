import { z } from "zod";
import { parseFreezeWindows } from "../reconcile/freeze.ts";
import type { ChecksPolicy, GatePolicy } from "../reconcile/types.ts";
import type { SettingKey } from "./settings.ts";

const bool = z.enum(["true", "false"]).transform((v) => v === "true");
const list = z.string().transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));
const pathPrefix = z.string().refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must stay inside the repository");

export const GATE_SCHEMAS = {
  skipMarkers: bool,
  skipAuthors: list,
  buildPaths: list.pipe(z.array(pathPrefix)),
  requiredChecks: list.transform((names): ChecksPolicy => (names.length === 0 ? { kind: "off" } : names.length === 1 && names[0] === "all" ? { kind: "all" } : { kind: "named", names })),
  requireApproval: bool,
  freezeWindows: z.string().transform((text, ctx) => {
    try {
      return parseFreezeWindows(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  }),
} satisfies Partial<Record<SettingKey, z.ZodType>>;

/** The gate settings as the pass reads them; every gate is off unless configured. */
export function assembleGates(values: ReadonlyMap<SettingKey, unknown>, chartPath: string | undefined, valuesFiles: readonly string[]): { gates: GatePolicy } {
  const get = <T>(key: SettingKey, fallback: T) => (values.get(key) as T | undefined) ?? fallback;
  return {
    gates: {
      skipMarkers: get("skipMarkers", false),
      skipAuthors: get<string[]>("skipAuthors", []),
      buildPaths: get<string[]>("buildPaths", []),
      deployPaths: [...(chartPath ? [chartPath] : []), ...valuesFiles],
      checks: get<ChecksPolicy>("requiredChecks", { kind: "off" }),
      approval: get("requireApproval", false),
      freeze: get("freezeWindows", []),
    },
  };
}
