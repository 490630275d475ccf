import { readFile } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { parse as parseYaml } from "yaml";

/** Whether the chart at `chartDir` declares dependencies, and which of them are refused (and why). */
export async function chartDependencies(chartDir: string): Promise<{ declared: boolean; refused: string[] }> {
  const chart = parseYaml(await readFile(join(chartDir, "Chart.yaml"), "utf8").catch(() => "")) as { dependencies?: unknown[] } | null;
  const dependencies = chart?.dependencies ?? [];
  return { declared: dependencies.length > 0, refused: dependencies.map((d) => dependencyProblem(chartDir, d)).filter((p) => p !== undefined) };
}

/**
 * Where a dependency may come from: a chart repository over https, an OCI registry, a repository
 * name helm knows, or a folder inside the chart. A plain-http repository would be fetched from the
 * runner's pod, in the clear, wherever the commit points (a blind request into the cluster); a
 * file:// outside the chart would package whatever it points at.
 */
function dependencyProblem(chartDir: string, dependency: unknown): string | undefined {
  const { name, repository } = (dependency ?? {}) as { name?: unknown; repository?: unknown };
  const what = `dependency ${typeof name === "string" ? name : "?"}`;
  if (typeof repository !== "string" || repository === "" || repository.startsWith("@") || repository.startsWith("alias:")) return undefined;
  if (repository.startsWith("https://") || repository.startsWith("oci://")) return undefined;
  if (repository.startsWith("file://")) {
    const target = resolve(chartDir, repository.slice("file://".length));
    return target.startsWith(`${resolve(chartDir)}${sep}`) ? undefined : `${what} is ${repository}, outside the chart`;
  }
  return `${what} comes from ${repository}: only https://, oci:// or a folder inside the chart`;
}
