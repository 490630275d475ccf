import { ApiException, type AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ApiServerIdentity } from "../../../src/adapters/kube/identity.ts";

describe("who approves", () => {
  const kc = { getCurrentUser: () => ({ name: "ada@dev" }) } as unknown as KubeConfig;

  it("is the user the API server authenticated (SelfSubjectReview)", async () => {
    const api = { createSelfSubjectReview: async () => ({ status: { userInfo: { username: "system:serviceaccount:cicd:deployer" } } }) } as unknown as AuthenticationV1Api;
    expect(await new ApiServerIdentity(api, kc).whoAmI()).toBe("system:serviceaccount:cicd:deployer");
  });

  it("falls back to the kubeconfig user, saying it is unconfirmed, when the API server does not serve the review", async () => {
    const api = { createSelfSubjectReview: async () => { throw new ApiException(404, "not found", {}, {}); } } as unknown as AuthenticationV1Api;
    expect(await new ApiServerIdentity(api, kc).whoAmI()).toBe("ada@dev (kubeconfig user; the API server did not confirm it)");
  });
});
