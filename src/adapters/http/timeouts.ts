/**
 * Every deadline ci-runner gives a remote call, in one place (the Kubernetes client's is derived
 * from the lease below, helm's from HELM_TIMEOUT in deploy/helm.ts). A stalled peer that accepts a
 * connection and sends nothing must never hold a pass, and with it the lease.
 */
export const TIMEOUTS = {
  /** No byte from a peer for this long ends a request (GitHub; Octokit's retry then decides). */
  idleMs: 30_000,
  /** One registry request (the manifest HEAD, the token endpoint). */
  registryMs: 15_000,
  /** One try of the webhook; three tries and their pauses stay within `receiverMs`. */
  webhookTryMs: 2_500,
  /** One push to the Pushgateway. */
  pushgatewayMs: 5_000,
  /** How long one receiver may take before the pass goes on without waiting for it. */
  receiverMs: 10_000,
} as const;

/** How long one Kubernetes API request may take: long enough for a loaded server, short against the lease. */
export function kubeRequestMs(leaseSeconds: number): number {
  return Math.max(5_000, Math.min(15_000, (leaseSeconds * 1000) / 3));
}
