import { ConfigError, ConflictError, type ExitCode } from "../errors.ts";
import { failuresFor } from "../reconcile/attempts.ts";
import type { StateStore } from "../reconcile/ports.ts";

/**
 * Lets a set-aside commit be tried again: clears the set-aside mark and grants MAX_RETRIES new
 * attempts. The failure count keeps growing, so the new attempts get new Job names and the failed
 * Jobs stay readable. Compare-and-swap like every other write.
 */
export async function runRetry(state: StateStore, sha: string | undefined, out: (text: string) => void): Promise<ExitCode> {
  const snapshot = await state.read();
  const setAside = snapshot.state.setAside;
  if (setAside === undefined) throw new ConfigError("no commit is set aside", "nothing to retry; `ci-runner status` shows the state");
  if (sha !== undefined && !setAside.sha.startsWith(sha.toLowerCase())) {
    throw new ConfigError(`commit ${sha} is not the set-aside commit (${setAside.sha})`, `run \`ci-runner retry ${setAside.sha.slice(0, 12)}\` or omit the SHA`);
  }
  const { setAside: _cleared, ...rest } = snapshot.state;
  const failures = failuresFor(setAside.sha, rest);
  // A commit whose checks (VERIFY) failed and that still runs (nothing verified to roll back to):
  // deployed already, so trying again means running its checks again.
  const recheck = rest.deployed?.sha === setAside.sha ? { verifying: { sha: setAside.sha, revision: rest.deployed.revision } } : {};
  try {
    await state.write({ ...rest, ...recheck, attempts: { sha: setAside.sha, failures, since: failures } }, snapshot.resourceVersion);
  } catch (error) {
    if (error instanceof ConflictError) throw new ConflictError("the state changed while retry was writing it", "run `ci-runner retry` again");
    throw error;
  }
  out(`Commit ${setAside.sha} will be tried again on the next pass.\n`);
  return 0;
}
