import type { ChartResource } from "../permissions.ts";

/** A rendered object, as much of it as the kinds need. */
export interface RenderedObject {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown } | null;
}

/** The API server's answer for one apiVersion and kind; undefined: not served. */
export type Served = { readonly resource: string; readonly namespaced: boolean } | undefined;

export interface ChartKinds {
  readonly resources: readonly ChartResource[];
  /** One line per object the deploy identity cannot be given, with what to do. */
  readonly problems: readonly string[];
}

/** The distinct apiVersion and kind pairs the objects name, for the caller to ask the API server. */
export function kindsToAsk(objects: readonly RenderedObject[]): { apiVersion: string; kind: string }[] {
  const pairs = new Map<string, { apiVersion: string; kind: string }>();
  for (const o of objects) {
    if (typeof o.apiVersion === "string" && typeof o.kind === "string") pairs.set(key(o.apiVersion, o.kind), { apiVersion: o.apiVersion, kind: o.kind });
  }
  return [...pairs.values()];
}

/**
 * What the chart's objects need of the deploy identity, and what it cannot be given: a kind the
 * cluster does not serve, an object outside DEPLOY_NS or of no namespace at all. A commit deploys
 * its app into DEPLOY_NS and nothing more (docs/security.md), so those are refused, never granted.
 */
export function chartKinds(objects: readonly RenderedObject[], served: ReadonlyMap<string, Served>, namespace: string): ChartKinds {
  const resources = new Map<string, ChartResource>();
  const problems: string[] = [];
  for (const o of objects) {
    const kind = typeof o.kind === "string" ? o.kind : undefined;
    const apiVersion = typeof o.apiVersion === "string" ? o.apiVersion : undefined;
    const name = `${kind ?? "an object"} ${typeof o.metadata?.name === "string" ? o.metadata.name : "(no name)"}`;
    if (kind === undefined || apiVersion === undefined) {
      problems.push(`${name} has no apiVersion or kind: fix the template that renders it`);
      continue;
    }
    const found = served.get(key(apiVersion, kind));
    if (found === undefined) {
      problems.push(`${name}: this cluster serves no ${kind} in ${apiVersion}; install the CRD that defines it first, or fix the apiVersion`);
      continue;
    }
    if (!found.namespaced) {
      problems.push(`${name} is cluster-scoped; a chart may create objects in DEPLOY_NS (${namespace}) only: create it once as an admin, outside the chart`);
      continue;
    }
    const ns = o.metadata?.namespace;
    if (typeof ns === "string" && ns !== "" && ns !== namespace) {
      problems.push(`${name} is in namespace ${ns}; a chart may create objects in DEPLOY_NS (${namespace}) only: remove its namespace, or deploy it from a release of its own`);
      continue;
    }
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
    resources.set(`${group}/${found.resource}`, { group, resource: found.resource, kind });
  }
  return { resources: [...resources.values()], problems };
}

export function key(apiVersion: string, kind: string): string {
  return `${apiVersion} ${kind}`;
}

/** chartKinds, asking `served` once per distinct apiVersion and kind. */
export async function resolveChartKinds(served: (apiVersion: string, kind: string) => Promise<Served>, objects: readonly RenderedObject[], namespace: string): Promise<ChartKinds> {
  const answers = new Map<string, Served>();
  await Promise.all(kindsToAsk(objects).map(async ({ apiVersion, kind }) => { answers.set(key(apiVersion, kind), await served(apiVersion, kind)); }));
  return chartKinds(objects, answers, namespace);
}
