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

/**
 * Text that came from a commit (helm's and Kaniko's output, the app's own log lines) without the
 * control characters that a terminal or a chat would act on: escape sequences (OSC links, cursor
 * moves, colours) and every C0/C1 control but tab and newline.
 */
export function plain(text: string): string {
  return text
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, "") // OSC: links, titles
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "") // CSI: colours, cursor
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "");
}

/** Text for a Slack message: its three control characters escaped, so `<!channel>` or `<url|label>` stay text. */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
