import { BatchV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

/** A KubeConfig that talks plain HTTP to a loopback fake API server, with a bearer token. */
export function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
    users: [{ name: "tester", token: "test-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "tester" }],
    currentContext: "fake",
  });
  return kc;
}

export function apis(url: string) {
  const kc = kubeConfigFor(url);
  return { kc, core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api) };
}

export function forbidden(verb: string, resource: string, namespace: string) {
  return {
    status: 403,
    body: { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Forbidden", code: 403,
      message: `${resource} is forbidden: User "system:serviceaccount:cicd:deployer" cannot ${verb} resource "${resource}" in API group "" in the namespace "${namespace}"` },
  };
}
