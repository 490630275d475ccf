import { stringify } from "yaml";

export type DataFormat = "json" | "yaml";

/**
 * Machine-readable output of `status` and `plan`. YAML never uses anchors and aliases: the Job's
 * labels appear twice (Job and pod template), and a reader or a script must see them in both places.
 */
export function render(value: unknown, format: DataFormat): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { aliasDuplicateObjects: false });
}
