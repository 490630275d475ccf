/** Makes a switch exhaustive: a case without a handler does not compile. */
export function assertNever(value: never): never {
  throw new Error(`unhandled: ${JSON.stringify(value)}`);
}
