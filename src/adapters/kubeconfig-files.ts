import { existsSync } from "node:fs";
import { delimiter } from "node:path";

/**
 * KUBECONFIG may name several files (`a:b`), which kubectl merges: the first file to define a
 * cluster, user or context name wins, and current-context comes from the first file that sets
 * one. Files of a list that do not exist are skipped, as kubectl does; a single named file must
 * exist, so its absence is reported. Shared by the full client (kube.ts) and the idle tick's read
 * (kube-lite.ts), so both see the same merged kubeconfig.
 */
export function kubeconfigFiles(value: string): string[] {
  const files = value.split(delimiter).filter(Boolean);
  return files.length === 1 ? files : files.filter((file) => existsSync(file));
}

/** kubectl's merge of named entries: the first definition of a name wins, later ones are ignored. */
export function firstByName<T extends { readonly name: string }>(lists: readonly (readonly T[] | undefined)[]): T[] {
  const seen = new Set<string>();
  const merged: T[] = [];
  for (const item of lists.flatMap((list) => list ?? [])) {
    if (seen.has(item.name)) continue;
    seen.add(item.name);
    merged.push(item);
  }
  return merged;
}
