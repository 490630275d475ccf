import { stringify } from "yaml";
import { describe, type KubeObject } from "../adapters/kube/object.ts";

/** What `install --dry-run` reports for one object. */
export type Change =
  | { readonly kind: "create"; readonly object: KubeObject }
  | { readonly kind: "update"; readonly object: KubeObject; readonly lines: readonly string[] }
  | { readonly kind: "delete"; readonly object: KubeObject };

const SERVER_FIELDS = ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"];

/** An object as far as it is someone's intent: no status, none of the server's own metadata. */
export function intent(object: KubeObject): unknown {
  const { status: _status, metadata, ...rest } = JSON.parse(JSON.stringify(object)) as KubeObject & { status?: unknown };
  const kept = Object.fromEntries(Object.entries(metadata).filter(([k]) => !SERVER_FIELDS.includes(k)));
  return { ...rest, metadata: kept };
}

/**
 * The change from `live` to `applied` (what a server-side dry-run apply would leave), both read
 * back from the API server so that defaults are filled in on both sides alike.
 */
export function change(live: KubeObject | undefined, applied: KubeObject): Change | undefined {
  if (live === undefined) return { kind: "create", object: applied };
  const before = stringify(intent(live), { sortMapEntries: true }).split("\n");
  const after = stringify(intent(applied), { sortMapEntries: true }).split("\n");
  const lines = lineDiff(before, after);
  return lines.some((l) => l.startsWith("+") || l.startsWith("-")) ? { kind: "update", object: applied, lines } : undefined;
}

/** kubectl diff's shape, in a few lines per object. */
export function renderChanges(changes: readonly Change[]): string {
  if (changes.length === 0) return "No changes: the installation is as these settings make it.\n";
  return changes.map((c) => {
    const what = describe(c.object);
    switch (c.kind) {
      case "create": return `+ create ${what}\n`;
      case "delete": return `- delete ${what}\n`;
      case "update": return `~ update ${what}\n${c.lines.map((l) => `    ${l}`).join("\n")}\n`;
    }
  }).join("");
}

/** The changed lines of b against a with two lines of context, from a longest common subsequence. */
export function lineDiff(a: readonly string[], b: readonly string[]): string[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const all: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { all.push(`  ${a[i]}`); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) { all.push(`- ${a[i]}`); i++; }
    else { all.push(`+ ${b[j]}`); j++; }
  }
  const near = (k: number) => all.slice(Math.max(0, k - 2), k + 3).some((l) => !l.startsWith("  "));
  return all.filter((_, k) => near(k));
}
