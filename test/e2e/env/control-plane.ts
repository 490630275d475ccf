import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CertPair, makePki, signCert } from "./pki.ts";
import { freePort, startProcess, type Started, stopAll, waitFor } from "./processes.ts";

export const CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"] as const;

export interface ControlPlane {
  readonly server: string;
  readonly adminToken: string;
  readonly caCert: string;
  /** kubeconfig of a cluster admin (system:masters). */
  readonly kubeconfig: string;
  readonly dir: string;
  /** Only with a real node: what its kubelet needs to join. */
  readonly kubelet?: KubeletCredentials;
  stop(): Promise<void>;
}

export interface KubeletCredentials {
  /** kubeconfig of system:node:localhost (a static token in group system:nodes). */
  readonly kubeconfig: string;
  /** The kubelet's serving certificate, for localhost/127.0.0.1, signed by the cluster CA. */
  readonly serving: CertPair;
  readonly caCert: string;
}

/**
 * `kwok`: a fake node driven by kwok. `real`: no kwok; a kubelet started later registers itself as
 * `localhost` (it refuses a loopback node IP, so the API server reaches it by hostname), and the API
 * server gets a client certificate for `kubectl logs`/`exec` against it. `ca` is reused, not made.
 */
export type NodeKind = { kind: "kwok" } | { kind: "real"; ca: CertPair; /** Pods reach the API server here (a runner in a pod). */ gateway: string };

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** Builds (or finds cached) binaries with tools/k8s-testenv/build.sh and returns their folder. */
export function controlPlaneBinaries(): string {
  const out = execFileSync("bash", [join(REPO, "tools/k8s-testenv/build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").at(-1) ?? "";
}

export function writeKubeconfig(file: string, server: string, caCert: string, token: string, user = "admin"): void {
  const ca = readFileSync(caCert).toString("base64");
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "${server}", certificate-authority-data: "${ca}"}
users:
- name: ${user}
  user: {token: "${token}"}
contexts:
- name: e2e
  context: {cluster: e2e, user: ${user}}
current-context: e2e
`, { mode: 0o600 });
}

/**
 * etcd -> kube-apiserver (RBAC, token auth, SA signing) -> controller-manager, scheduler -> kwok
 * -> one Node. Loopback only; every process stopped by its own PID.
 */
export async function startControlPlane(dir: string, bin: string, node: NodeKind = { kind: "kwok" }): Promise<ControlPlane> {
  mkdirSync(dir, { recursive: true });
  const pki = node.kind === "real" ? makePki(dir, node.ca, [node.gateway]) : makePki(dir);
  const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
  const nodeToken = `node-${Math.random().toString(36).slice(2)}`;
  const tokens = [`${adminToken},admin,admin-uid,"system:masters"`, ...(node.kind === "real" ? [`${nodeToken},system:node:localhost,node-uid,"system:nodes"`] : [])];
  writeFileSync(join(dir, "tokens.csv"), `${tokens.join("\n")}\n`, { mode: 0o600 });
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, "admin.kubeconfig");
  writeKubeconfig(kubeconfig, server, pki.caCert, adminToken);
  const kubelet = node.kind === "real" ? kubeletCredentials(dir, server, pki.caCert, nodeToken) : undefined;
  const kubeletFlags = kubelet ? [
    `--kubelet-client-certificate=${join(dir, "apiserver-kubelet-client.crt")}`, `--kubelet-client-key=${join(dir, "apiserver-kubelet-client.key")}`,
    `--kubelet-certificate-authority=${pki.caCert}`, "--kubelet-preferred-address-types=Hostname",
  ] : [];
  const stop = () => stopAll(dir, [...CONTROL_PLANE].reverse());

  try {
    const etcd = startProcess(dir, "etcd", join(bin, "etcd"), [
      "--name=e2e", `--data-dir=${join(dir, "etcd-data")}`, "--log-level=warn", "--unsafe-no-fsync",
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${etcdPeer}`,
    ]);
    await waitFor("etcd /health", async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, etcd);

    const apiserver = startProcess(dir, "kube-apiserver", join(bin, "kube-apiserver"), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`, "--bind-address=127.0.0.1", `--secure-port=${apiPort}`,
      "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
      `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`, `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`, "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      "--service-cluster-ip-range=10.96.0.0/16", "--enable-priority-and-fairness=false", "--v=1", ...kubeletFlags,
    ]);
    await waitFor("kube-apiserver /readyz", () => apiReady(server, adminToken, pki.caCert), apiserver);

    const common = [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1"];
    const started: Started[] = [
      startProcess(dir, "kube-controller-manager", join(bin, "kube-controller-manager"), [
        ...common, `--secure-port=${cmPort}`, `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCert}`,
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-persistentvolume-expander",
        "--concurrent-job-syncs=5",
      ]),
      startProcess(dir, "kube-scheduler", join(bin, "kube-scheduler"), [...common, `--secure-port=${schedPort}`]),
    ];
    if (node.kind === "real") {
      await waitFor("the default ServiceAccount (controller-manager up)", () => serviceAccountExists(server, adminToken, pki.caCert), started[0]);
      return { server, adminToken, caCert: pki.caCert, kubeconfig, dir, kubelet, stop };
    }
    started.push(
      startProcess(dir, "kwok", join(bin, "kwok"), [
        `--kubeconfig=${kubeconfig}`, "--manage-all-nodes=true", "--cidr=10.0.0.0/16", "--node-ip=10.0.0.1",
        `--server-address=127.0.0.1:${kwokPort}`,
        ...["node-initialize.yaml", "node-heartbeat.yaml", "pod-delete.yaml"].map((f) => `--config=${join(bin, "kwok-stages", f)}`),
        `--config=${fileURLToPath(new URL("./stages.yaml", import.meta.url))}`,
      ]),
    );
    await createNode(server, adminToken, pki.caCert);
    await waitFor("the default ServiceAccount (controller-manager up)", () => serviceAccountExists(server, adminToken, pki.caCert), started[0]);
    await waitFor("the kwok Node to be Ready", () => nodeReady(server, adminToken, pki.caCert), started[2]);
    return { server, adminToken, caCert: pki.caCert, kubeconfig, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function kubeletCredentials(dir: string, server: string, caCert: string, token: string): KubeletCredentials {
  signCert(dir, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "extendedKeyUsage=clientAuth");
  const serving = signCert(dir, "kubelet", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
  const kubeconfig = join(dir, "kubelet.kubeconfig");
  writeKubeconfig(kubeconfig, server, caCert, token, "system:node:localhost");
  return { kubeconfig, serving, caCert };
}

export interface ApiResponse {
  readonly status: number;
  readonly ok: boolean;
  json(): unknown;
  readonly text: string;
}

/** One HTTPS request to the API server, trusting only our throwaway CA. */
export function api(server: string, token: string, caCert: string, path: string, init: { method?: string; body?: string; contentType?: string; impersonate?: string } = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${server}${path}`, {
      method: init.method ?? "GET",
      ca: readFileSync(caCert),
      headers: { authorization: `Bearer ${token}`, "content-type": init.contentType ?? "application/json", accept: "application/json", ...(init.impersonate ? { "impersonate-user": init.impersonate } : {}) },
      timeout: 10_000,
    }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => { text += chunk.toString("utf8"); });
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, text, json: () => JSON.parse(text) });
      });
    });
    request.on("error", reject);
    request.on("timeout", () => request.destroy(new Error(`timeout ${path}`)));
    request.end(init.body);
  });
}

async function apiReady(server: string, token: string, ca: string): Promise<boolean> {
  return (await api(server, token, ca, "/readyz")).ok;
}

async function serviceAccountExists(server: string, token: string, ca: string): Promise<boolean> {
  return (await api(server, token, ca, "/api/v1/namespaces/default/serviceaccounts/default")).ok;
}

async function nodeReady(server: string, token: string, ca: string): Promise<boolean> {
  const response = await api(server, token, ca, "/api/v1/nodes/kwok-node-0");
  if (!response.ok) return false;
  const node = response.json() as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

const NODE_SIZE = { cpu: "1k", memory: "1Ti", pods: "1M", "ephemeral-storage": "1Ti" };

async function createNode(server: string, token: string, ca: string): Promise<void> {
  const body = {
    apiVersion: "v1", kind: "Node",
    metadata: { name: "kwok-node-0", labels: { "kubernetes.io/hostname": "kwok-node-0", type: "kwok" }, annotations: { "kwok.x-k8s.io/node": "fake" } },
    spec: {},
    // kwok's defaults, plus the disk a real node reports: build pods ask for ephemeral storage.
    status: { capacity: NODE_SIZE, allocatable: NODE_SIZE },
  };
  const response = await api(server, token, ca, "/api/v1/nodes", { method: "POST", body: JSON.stringify(body) });
  if (!response.ok && response.status !== 409) throw new Error(`creating the kwok Node failed: HTTP ${response.status} ${response.text}`);
}
