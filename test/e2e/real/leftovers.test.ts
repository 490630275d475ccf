import { describe, expect, inject, it } from "vitest";
import { realNodeLeftovers } from "../env/real-node.ts";

const real = inject("real");

// The global teardown fails the run when realNodeLeftovers finds anything after stop. That check
// is only worth something if it sees a node that is still there: here, while it runs.
describe.skipIf("skip" in real)("the leftovers check", () => {
  it("sees every part of the running node", () => {
    if (!("info" in real)) return;
    const left = realNodeLeftovers(real.info.dir).join("\n");
    for (const part of ["kubelet", "containerd", "kube-apiserver", "etcd", "docker-registry", "bridge cir0", "iptables -t nat", "iptables -t filter", "mount ", "cgroup "]) {
      expect(left).toContain(part);
    }
  });
});
