/** Reading what helm printed: values as JSON, and the logs `helm test --logs` appends. */

/**
 * The test pods' last log lines from `helm test --logs` (printed after the release's status, each
 * pod's under a "POD LOGS: <pod>" line), as `<pod>: "<line> / <line>"`.
 */
export function testLogs(stdout: string, lines = 3): string {
  const parts = stdout.split(/^POD LOGS: /m).slice(1);
  return parts.map((part) => {
    const [pod = "", ...log] = part.split("\n").map((l) => l.trim());
    const tail = log.filter((l) => l !== "").slice(-lines);
    return `${pod}: ${tail.length > 0 ? `"${tail.join(" / ")}"` : "no output"}`;
  }).join("; ").slice(0, 600);
}

/** Reads a dotted values key such as image.tag. */
export function pluck(values: unknown, key: string): unknown {
  let node: unknown = values;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
