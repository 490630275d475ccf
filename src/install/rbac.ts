import type { Permission } from "../permissions.ts";

/** One rule of a Role, as the API server stores it. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete", "impersonate"];

/**
 * The fewest rules that grant exactly these permissions: one rule per group, resource and name,
 * its verbs in kubectl's order. Permissions of other namespaces are the caller's to filter out.
 */
export function rulesFor(permissions: readonly Permission[]): PolicyRule[] {
  const rules = new Map<string, { group: string; resource: string; name?: string; verbs: Set<string> }>();
  for (const p of permissions) {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const key = `${p.group}\u0000${resource}\u0000${p.name ?? ""}`;
    const rule = rules.get(key) ?? { group: p.group, resource, ...(p.name ? { name: p.name } : {}), verbs: new Set<string>() };
    rule.verbs.add(p.verb);
    rules.set(key, rule);
  }
  return [...rules.values()].map((r) => ({
    apiGroups: [r.group],
    resources: [r.resource],
    verbs: [...r.verbs].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
    ...(r.name ? { resourceNames: [r.name] } : {}),
  }));
}

/** What a set of rules grants, one line per verb, group, resource and name: for comparing two Roles. */
export function grants(rules: readonly PolicyRule[]): string[] {
  const lines = new Set<string>();
  for (const rule of rules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) {
          for (const name of rule.resourceNames?.length ? rule.resourceNames : [""]) lines.add(`${verb} ${resource}${group ? `.${group}` : ""}${name ? ` "${name}"` : ""}`);
        }
      }
    }
  }
  return [...lines].sort();
}

function rank(verb: string): number {
  const i = VERB_ORDER.indexOf(verb);
  return i === -1 ? VERB_ORDER.length : i;
}
