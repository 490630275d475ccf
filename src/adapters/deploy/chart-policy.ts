import { parseAllDocuments } from "yaml";

/**
 * What a chart may render, checked on `helm template`'s output before anything is applied. The
 * deploy identity's RBAC already keeps the chart in DEPLOY_NS; these are the things RBAC cannot
 * tell from an app's own objects:
 *   - a Secret or ConfigMap that poses as Helm's own release record (type helm.sh/release.v1, or
 *     labelled owner: helm): one "pending" and dated in the future holds every later helm busy;
 *   - a Service with externalIPs, which captures traffic to those addresses across the cluster
 *     (CVE-2020-8554), and NodePort or LoadBalancer Services unless SERVICE_TYPES allows them;
 *   - an object in another namespace, named here rather than as a refusal from the API server.
 * Pure: the objects in, one line per problem out.
 */
export interface ChartRules {
  readonly namespace: string;
  /** Service types the chart may create (SERVICE_TYPES). */
  readonly serviceTypes: readonly string[];
}

/** One object of `helm template`'s output: what the checks read of it. */
export interface Rendered {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly type?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown; readonly labels?: Record<string, unknown> | null } | null;
  readonly spec?: { readonly type?: unknown; readonly externalIPs?: unknown } | null;
}

/** The objects of a multi-document YAML stream; a document that is not an object is skipped. */
export function renderedObjects(manifest: string): Rendered[] {
  return parseAllDocuments(manifest, { uniqueKeys: false })
    .map((doc) => doc.toJSON() as unknown)
    .filter((o): o is Rendered => typeof o === "object" && o !== null && !Array.isArray(o));
}

export function chartViolations(objects: readonly Rendered[], rules: ChartRules): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const kind = typeof o.kind === "string" ? o.kind : "?";
    const name = `${kind} ${typeof o.metadata?.name === "string" ? o.metadata.name : "?"}`;
    const namespace = o.metadata?.namespace;
    if (typeof namespace === "string" && namespace !== "" && namespace !== rules.namespace) {
      problems.push(`${name} is in namespace ${namespace}; the chart may create objects in DEPLOY_NS (${rules.namespace}) only`);
    }
    if ((kind === "Secret" || kind === "ConfigMap") && (o.type === "helm.sh/release.v1" || o.metadata?.labels?.owner === "helm")) {
      problems.push(`${name} poses as a Helm release record (${o.type === "helm.sh/release.v1" ? "type helm.sh/release.v1" : "label owner: helm"})`);
    }
    if (kind === "Service") {
      if (Array.isArray(o.spec?.externalIPs) && o.spec.externalIPs.length > 0) {
        problems.push(`${name} sets externalIPs, which would capture traffic to ${o.spec.externalIPs.join(", ")} across the cluster (CVE-2020-8554)`);
      }
      const type = typeof o.spec?.type === "string" ? o.spec.type : "ClusterIP";
      if (!rules.serviceTypes.includes(type)) problems.push(`${name} is of type ${type}; SERVICE_TYPES allows ${rules.serviceTypes.join(", ")}`);
    }
  }
  return problems;
}
