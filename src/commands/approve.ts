import type { Identity } from "../adapters/kube/identity.ts";
import { ConfigError, ConflictError, type ExitCode } from "../errors.ts";
import type { Clock, StateStore } from "../reconcile/ports.ts";

export interface ApproveDeps {
  readonly state: StateStore;
  readonly identity: Identity;
  readonly clock: Clock;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * Approves one commit for deployment (REQUIRE_APPROVAL): records the SHA, who approved it (as the
 * API server authenticated them) and when, with compare-and-swap like every other write. The same
 * record can be set by hand, with approved-by the user the API server knows (manifests/base/
 * state-policy.yaml refuses any other, and refuses the runners' own ServiceAccounts).
 * Approving a set-aside commit does not bring it back: `ci-runner retry` does.
 */
export async function runApprove(deps: ApproveDeps, given: string, out: (text: string) => void): Promise<ExitCode> {
  const sha = fullSha(given.toLowerCase());
  const by = await deps.identity.whoAmI();
  for (let tries = 0; ; tries++) {
    const snapshot = await deps.state.read();
    if (snapshot.state.deployed?.sha === sha) {
      out(`Commit ${sha} is already deployed; nothing to approve.\n`);
      return 0;
    }
    const at = deps.clock.now().toISOString();
    try {
      await deps.state.write({ ...snapshot.state, approved: { sha, by, at } }, snapshot.resourceVersion);
    } catch (error) {
      // A run wrote meanwhile (its lease, a record): take its state and approve on top, once.
      if (error instanceof ConflictError && tries === 0) continue;
      if (error instanceof ConflictError) throw new ConflictError("the state changed twice while approve was writing it", "run `ci-runner approve` again");
      throw error;
    }
    out(`Approved ${sha} as ${by} at ${at}.\n`);
    if (snapshot.state.setAside?.sha === sha) out(`It is set aside (${snapshot.state.setAside.reason}); run \`ci-runner retry\` to let it be tried again.\n`);
    else out("The next pass deploys it unless another gate holds it (`ci-runner plan` says which).\n");
    return 0;
  }
}

/**
 * The full SHA only. A prefix a reviewer types could match a commit a pusher made to look like the
 * one reviewed (a few hex digits are cheap to grind), so an approval names exactly one commit.
 */
function fullSha(given: string): string {
  if (FULL_SHA.test(given)) return given;
  if (/^[0-9a-f]{4,39}$/.test(given)) throw new ConfigError(`"${given}" is an abbreviated SHA; an approval names the full 40-character commit SHA`, "copy it from `ci-runner status` (Branch head) or the waiting message, which print it in full");
  throw new ConfigError(`"${given}" is not a commit SHA`, "give the commit's full 40-character SHA");
}
