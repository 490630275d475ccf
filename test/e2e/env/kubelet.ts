import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeletCredentials } from "./control-plane.ts";
import { freePort, type Started, startProcess } from "./processes.ts";

/**
 * The node's kubelet, named `localhost`: it refuses a loopback node IP, and the API server reaches
 * it by hostname (--kubelet-preferred-address-types=Hostname). Every port it opens is on loopback.
 */
export async function startKubelet(dir: string, bin: string, containerdSocket: string, credentials: KubeletCredentials): Promise<Started> {
  for (const sub of ["root", "logs", "certs"]) mkdirSync(join(dir, sub), { recursive: true });
  const [port, healthzPort] = await Promise.all([freePort(), freePort()]);
  // No DNS for pods: they reach the registry and git server by the gateway's address.
  writeFileSync(join(dir, "resolv.conf"), "nameserver 127.0.0.1\n");
  writeFileSync(join(dir, "config.yaml"), `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://${containerdSocket}
address: 127.0.0.1
port: ${port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
tlsCertFile: ${credentials.serving.cert}
tlsPrivateKeyFile: ${credentials.serving.key}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${credentials.caCert}}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: ${join(dir, "resolv.conf")}
podLogsDir: ${join(dir, "logs")}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
maxPods: 20
podPidsLimit: 4096
registerNode: true
enableServer: true
# The kubelet would add KUBE-* chains that outlive it; the run's own tagged rules are all it needs.
makeIPTablesUtilChains: false
`);
  return startProcess(dir, "kubelet", join(bin, "kubelet"), [
    `--config=${join(dir, "config.yaml")}`, `--kubeconfig=${credentials.kubeconfig}`, `--root-dir=${join(dir, "root")}`,
    `--cert-dir=${join(dir, "certs")}`, "--hostname-override=localhost", "--v=2",
  ]);
}
