/**
 * A port made on its first use: every method call waits for `make` (once) and goes to what it
 * made. The one way wiring defers an adapter, so that an idle tick never loads the Kubernetes
 * client or builds a GitHub client it does not ask: no method is forwarded by hand. Only for ports
 * whose methods all return promises.
 */
export function lazy<T extends object>(make: () => T | Promise<T>): T {
  const made = once(async () => make());
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === "then") return undefined; // not a thenable: `await port` must not call make
      return async (...args: unknown[]) => {
        const instance = await made();
        const method = Reflect.get(instance, property) as ((...a: unknown[]) => unknown) | undefined;
        if (typeof method !== "function") throw new TypeError(`lazy port: ${String(property)} is not a method`);
        return method.apply(instance, args);
      };
    },
  });
}

/** `make` called at most once; a failure is kept, as a retry within one process would fail the same way. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}
