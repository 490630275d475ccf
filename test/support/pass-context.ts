import { createLogger, Secrets } from "../../src/log.ts";
import { NO_GATES } from "../../src/reconcile/gates.ts";
import type { PassContext } from "../../src/reconcile/pass.ts";
import type { Ports } from "../../src/reconcile/ports.ts";
import type { Rules } from "../../src/reconcile/types.ts";

export function testLog(lines: string[] = []) {
  return createLogger({ level: "debug", pretty: false, secrets: new Secrets(), write: (l) => lines.push(l) });
}

/** A pass's context over `ports`; a test overrides the rules it is about by name. */
export function passContext(ports: Ports, overrides: Partial<Omit<PassContext, "rules"> & Rules> = {}): PassContext {
  const { maxRetries = 3, helmTimeoutSeconds = 300, policy = NO_GATES, verify = { helmTest: false }, ...rest } = overrides;
  return { ports, log: testLog(), holder: "test-pod/1", leaseSeconds: 45, valuesFiles: [], rules: { maxRetries, helmTimeoutSeconds, policy, verify }, ...rest };
}

/** Thrown by a port after the process "was killed": nothing after it may run. */
export class Killed extends Error {}

const MUTATING = new Set(["state.write", "builds.start", "builds.wait", "builds.remove", "helm.deploy", "helm.repair"]);

/**
 * Wraps ports so the process "dies" right after the n-th mutating call took effect: that call and
 * every later call throw Killed, as if SIGKILL arrived between two lines.
 */
export function killAfter(ports: Ports, n: number): { ports: Ports; steps: () => string[]; killed: () => boolean } {
  let count = 0;
  const steps: string[] = [];
  let dead = false;
  const wrap = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver);
        if (typeof value !== "function") return value;
        const call = `${name}.${String(prop)}`;
        return async (...args: unknown[]) => {
          if (dead) throw new Killed(`${call} after kill`);
          const result = await (value as (...a: unknown[]) => unknown).apply(obj, args);
          if (MUTATING.has(call)) steps.push(call);
          if (MUTATING.has(call) && ++count === n) {
            dead = true;
            throw new Killed(`killed after ${call}`);
          }
          return result;
        };
      },
    });
  return {
    ports: {
      source: wrap("github", ports.source),
      gates: wrap("gates", ports.gates),
      state: wrap("state", ports.state),
      builds: wrap("builds", ports.builds),
      registry: wrap("registry", ports.registry),
      charts: wrap("charts", ports.charts),
      releases: wrap("helm", ports.releases),
      reporter: ports.reporter,
      clock: ports.clock,
    },
    steps: () => steps,
    killed: () => dead,
  };
}
