import { describe, expect, it } from "vitest";
import { chartViolations, renderedObjects } from "../../src/adapters/deploy/chart-policy.ts";

const rules = { namespace: "shop", serviceTypes: ["ClusterIP"] };
const check = (yaml: string, r = rules) => chartViolations(renderedObjects(yaml), r);

describe("what a chart may render", () => {
  it("an app's own objects pass", () => {
    expect(check(`---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-db, labels: {app: shop}}
type: Opaque
`)).toEqual([]);
  });

  it.each([
    ["a forged Helm release record", "apiVersion: v1\nkind: Secret\nmetadata: {name: sh.helm.release.v1.shop.v999, labels: {owner: helm, status: pending-upgrade}}\ntype: helm.sh/release.v1\n",
      "Secret sh.helm.release.v1.shop.v999 poses as a Helm release record (type helm.sh/release.v1)"],
    ["a ConfigMap labelled as Helm's storage", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sh.helm.release.v1.shop.v9, labels: {owner: helm}}\n",
      "ConfigMap sh.helm.release.v1.shop.v9 poses as a Helm release record (label owner: helm)"],
    ["externalIPs (CVE-2020-8554)", "apiVersion: v1\nkind: Service\nmetadata: {name: grab}\nspec: {externalIPs: [10.96.0.1]}\n",
      "Service grab sets externalIPs, which would capture traffic to 10.96.0.1 across the cluster (CVE-2020-8554)"],
    ["a LoadBalancer not allowed by SERVICE_TYPES", "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec: {type: LoadBalancer}\n",
      "Service lb is of type LoadBalancer; SERVICE_TYPES allows ClusterIP"],
    ["an object in another namespace", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x, namespace: cicd}\n",
      "Job x is in namespace cicd; the chart may create objects in DEPLOY_NS (shop) only"],
  ])("refuses %s", (_name, yaml, problem) => {
    expect(check(yaml)).toEqual([problem]);
  });

  it("SERVICE_TYPES may allow NodePort and LoadBalancer; externalIPs never", () => {
    const yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec: {type: LoadBalancer, externalIPs: [1.2.3.4]}\n";
    expect(check(yaml, { namespace: "shop", serviceTypes: ["ClusterIP", "LoadBalancer"] })).toEqual([expect.stringContaining("sets externalIPs")]);
  });
});
