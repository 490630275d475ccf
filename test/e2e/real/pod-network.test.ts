import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, inject, it } from "vitest";
import { api } from "../env/control-plane.ts";
import { sleep } from "../env/processes.ts";

const real = inject("real");

// The harness promises that pods reach the host only through the ports it forwards. Prove both
// halves from inside a pod: the registry answers through its DNAT rule, while a listener bound to
// the gateway address itself (no rule) stays silent. Only loopback and the bridge are targets.
describe.skipIf("skip" in real)("a pod on the real node's bridge", () => {
  it("reaches the registry through its forwarded port and nothing else on the host", async () => {
    if (!("info" in real) || !real.info.real) return;
    const { info } = real;
    const gateway = info.real!.gateway;
    const listener = createServer((_req, res) => res.end("should not be reachable"));
    await new Promise<void>((resolve) => listener.listen(0, gateway, resolve));
    const hidden = (listener.address() as AddressInfo).port;
    try {
      const name = `probe-${Date.now()}`;
      // nc, not wget: the static busybox's wget crashes in glibc's NSS lookup of the "http" service.
      const script = [[info.registry.host, "/v2/"], [`${gateway}:${hidden}`, "/"]]
        .map(([target = "", path]) => `echo "${target}: $(printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target.replace(":", " ")} 2>&1 | head -1)"`).join("; ");
      const pod = {
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" },
        spec: {
          restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false, terminationGracePeriodSeconds: 1,
          containers: [{ name: "probe", image: info.real!.baseImage, command: ["sh", "-c", script] }],
        },
      };
      const created = await api(info.server, info.adminToken, info.caCert, "/api/v1/namespaces/default/pods", { method: "POST", body: JSON.stringify(pod) });
      expect(created.status, created.text).toBe(201);
      let phase = "";
      for (let i = 0; i < 120 && phase !== "Succeeded" && phase !== "Failed"; i++) {
        await sleep(250);
        phase = ((await api(info.server, info.adminToken, info.caCert, `/api/v1/namespaces/default/pods/${name}`)).json() as { status: { phase: string } }).status.phase;
      }
      expect(phase).toBe("Succeeded");
      // Through the API server to the kubelet: its client certificate and the Hostname address type.
      const logs = execFileSync(info.kubectl, ["--kubeconfig", info.kubeconfig, "logs", "-n", "default", name], { encoding: "utf8" });
      const line = (url: string) => logs.split("\n").find((l) => l.startsWith(url)) ?? "";
      expect(line(`${info.registry.host}:`)).toContain("401 Unauthorized");
      expect(line(`${gateway}:${hidden}:`)).toContain("timed out");
      await api(info.server, info.adminToken, info.caCert, `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=1`, { method: "DELETE" });
    } finally {
      listener.close();
    }
  });
});
