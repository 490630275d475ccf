import { lstat, readdir, realpath, stat as follow } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/**
 * Helm's own limits for a chart it loads from an archive (5 MiB a file, 100 MiB in all); a chart
 * read from a directory gets no such check from Helm, so the checkout applies the same ones.
 */
export const CHART_LIMITS = { fileBytes: 5 * 1024 * 1024, totalBytes: 100 * 1024 * 1024 } as const;

export interface TreeCheck {
  /** The checkout: `path` itself must resolve inside it (a symlinked parent folder must not lead out). */
  readonly root: string;
  /** A chart folder or a values file, inside `root`. */
  readonly path: string;
  /** Where its symlinks may point: the chart folder for a chart, the checkout for a values file. */
  readonly boundary: string;
  readonly limits?: { readonly fileBytes: number; readonly totalBytes: number };
}

/**
 * What a commit put in the chart that Helm must not read: a symlink that leaves the boundary (Helm
 * follows it and would render the runner's own files, such as its ServiceAccount token), a file too
 * large to be a template. Returns one line naming the first problem, or undefined when the tree is
 * safe. The repository is untrusted input: nothing here follows a link before checking it.
 */
export async function unsafeEntry(check: TreeCheck): Promise<string | undefined> {
  const { root, path, limits = CHART_LIMITS } = check;
  const realRoot = await realpath(root);
  const show = (entry: string) => relative(realRoot, entry) || ".";
  const realPath = await realpath(path).catch(() => undefined);
  if (realPath === undefined) return `${relative(root, path)} resolves to nothing`;
  if (!isInside(realPath, realRoot)) return `${relative(root, path)} resolves to ${realPath}, outside the checkout`;
  const boundary = await realpath(check.boundary);
  let total = 0;
  const visit = async (entry: string): Promise<string | undefined> => {
    const stat = await lstat(entry);
    if (stat.isSymbolicLink()) {
      const target = await realpath(entry).catch(() => undefined);
      if (target === undefined) return `${show(entry)} is a symlink that resolves to nothing`;
      if (!isInside(target, boundary)) return `${show(entry)} is a symlink to ${target}, outside ${show(boundary)}`;
      // Helm follows a symlink to a folder and walks it again: one pointing at its own parent
      // (`ln -s . z`) makes it walk forty levels deep and run out of memory. Files only.
      if ((await follow(entry)).isDirectory()) return `${show(entry)} is a symlink to a directory (${show(target)}); Helm would walk it again`;
      return undefined; // its target lies inside the boundary and is checked there
    }
    if (stat.isDirectory()) {
      for (const child of await readdir(entry)) {
        if (child === ".git" && (await realpath(entry)) === realRoot) continue; // git's own data, when the chart is the repository root
        const problem = await visit(join(entry, child));
        if (problem) return problem;
      }
      return undefined;
    }
    if (!stat.isFile()) return `${show(entry)} is not a regular file`;
    if (stat.size > limits.fileBytes) return `${show(entry)} has ${stat.size} bytes, more than the ${limits.fileBytes} Helm allows a file`;
    total += stat.size;
    if (total > limits.totalBytes) return `${show(check.path)} holds more than the ${limits.totalBytes} bytes Helm allows a chart`;
    return undefined;
  };
  return visit(realPath);
}

function isInside(target: string, boundary: string): boolean {
  return target === boundary || target.startsWith(boundary.endsWith(sep) ? boundary : `${boundary}${sep}`);
}
