import type { Identity } from "../adapters/kube/identity.ts";
import { ConfigError, ConflictError, type ExitCode } from "../errors.ts";
import type { Clock, SourceHost, StateStore } from "../reconcile/ports.ts";

export interface ApproveDeps {
  readonly state: StateStore;
  /** Resolves an abbreviated SHA against the branch head; undefined without REPO. */
  readonly source: SourceHost | undefined;
  readonly identity: Identity;
  readonly clock: Clock;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * Approves one commit for deployment (REQUIRE_APPROVAL): records the SHA, who approved it (as the
 * API server authenticated them) and when, with compare-and-swap like every other write. The same
 * record can be set by hand: `kubectl annotate configmap <state> ci-runner.dev/approved-sha=<sha>`.
 * Approving a set-aside commit does not bring it back: `ci-runner retry` does.
 */
export async function runApprove(deps: ApproveDeps, given: string, out: (text: string) => void): Promise<ExitCode> {
  const sha = await resolve(deps, given.toLowerCase());
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

async function resolve(deps: ApproveDeps, given: string): Promise<string> {
  if (FULL_SHA.test(given)) return given;
  if (!/^[0-9a-f]{4,39}$/.test(given)) throw new ConfigError(`"${given}" is not a commit SHA`, "give the commit's SHA, full or abbreviated (at least 4 hex digits)");
  if (deps.source === undefined) throw new ConfigError(`an abbreviated SHA (${given}) needs REPO to be resolved against the branch head`, "set REPO (or --repo), or give the full 40-character SHA");
  const snapshot = await deps.state.read();
  const head = await deps.source.branchHead(snapshot.state.head);
  if (!head.sha.startsWith(given)) {
    throw new ConfigError(`commit ${given} is not the branch head (${head.sha})`, `approve the head with \`ci-runner approve ${head.sha.slice(0, 12)}\`, or give another commit's full 40-character SHA`);
  }
  return head.sha;
}
