/** JSON from a tool or a peer that may print something else: undefined instead of a throw. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
