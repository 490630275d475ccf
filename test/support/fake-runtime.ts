import type { Config } from "../../src/config/load.ts";
import type { Logger } from "../../src/log.ts";
import type { Ports } from "../../src/reconcile/ports.ts";
import { passSettings } from "../../src/wiring/factory.ts";
import type { Runtime } from "../../src/wiring/runtime.ts";
import type { InstallCluster } from "../../src/install/ports.ts";

const unexpected = async (): Promise<never> => {
  throw new Error("fake runtime: preflight was not expected");
};

/**
 * A runtime over fake ports, with the rules read from the settings as the real factory reads them.
 * Strict: doctor's preflight and the identity refuse every question unless a test gives its answer.
 */
const NO_INSTALL: InstallCluster = { apply: unexpected, read: unexpected, list: unexpected, remove: unexpected, chart: unexpected, registrySecret: unexpected };

export function fakeRuntime(config: Config, ports: Ports, log: Logger, identity: Runtime["identity"] = { whoAmI: unexpected }, install: InstallCluster = NO_INSTALL): Runtime {
  return {
    ports, log, holder: "cli-test/1", ...passSettings(config),
    preflight: { deployIdentity: unexpected, helm: unexpected, registrySecret: unexpected, buildNamespace: unexpected, buildAdmitted: unexpected, chart: unexpected, missingPermissions: unexpected },
    identity,
    install,
  };
}
