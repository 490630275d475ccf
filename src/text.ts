/** Text as ci-runner shows it in logs, states, statuses and messages. */

/** A commit as people read it. */
export function short(sha: string): string {
  return sha.slice(0, 12);
}

/** One line, at most `max` characters, an ellipsis marking a cut (GitHub's status description takes 140). */
export function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
