import type { Identity } from "../adapters/kube/identity.ts";
import type { InstallCluster } from "../install/ports.ts";
import type { Permission } from "../permissions.ts";
import type { PassContext } from "../reconcile/pass.ts";

/** What `doctor` asks besides the ports. */
export interface Preflight {
  /** helm's identity in DEPLOY_NS: we may act as it, the namespace exists, it holds what helm needs. */
  deployIdentity(): Promise<string>;
  helm(): Promise<string>;
  registrySecret(): Promise<string>;
  buildNamespace(): Promise<string>;
  buildAdmitted(sha: string): Promise<string>;
  /** The chart at `sha`, rendered: every object something the deploy identity may manage. */
  chart(sha: string): Promise<string>;
  missingPermissions(permissions: readonly Permission[]): Promise<Permission[]>;
}

/** Everything a command works with: the pass's ports and rules, and what doctor and approve ask. */
export interface Runtime extends PassContext {
  readonly preflight: Preflight;
  /** Who runs this command, as the API server sees it (recorded with an approval). */
  readonly identity: Identity;
  /** What `install` and `uninstall` ask of the cluster. */
  readonly install: InstallCluster;
}
