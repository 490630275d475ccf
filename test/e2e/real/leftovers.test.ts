import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { bridgeExists } from "../env/network.ts";
import { bootRealNode, realNodeLeftovers, tearDownRealNode } from "../env/real-node.ts";

const real = inject("real");

describe.skipIf("skip" in real)("the real node's own bookkeeping", () => {
  // The global teardown fails the run when realNodeLeftovers finds anything after stop. That check
  // is only worth something if it sees a node that is still there: here, while it runs.
  it("the leftovers check sees every part of the running node", () => {
    if (!("info" in real)) return;
    const left = realNodeLeftovers(real.info.dir).join("\n");
    for (const part of ["kubelet", "containerd", "kube-apiserver", "etcd", "docker-registry", "bridge cir0", "iptables -t nat", "iptables -t filter", "mount ", "cgroup "]) {
      expect(left).toContain(part);
    }
  });

  it("a second node on the same machine refuses to boot, and its teardown (run twice) leaves the first alone", async () => {
    if (!("info" in real)) return;
    const scratch = mkdtempSync(join(real.info.dir, "second-"));
    await expect(bootRealNode(scratch)).rejects.toThrow(/bridge cir0 already exists/);
    await tearDownRealNode(scratch);
    await tearDownRealNode(scratch);
    expect(realNodeLeftovers(scratch)).toEqual([]);
    expect(bridgeExists("cir0")).toBe(true);
    expect(realNodeLeftovers(real.info.dir).join("\n")).toContain("kube-apiserver");
  });
});
