import { describe, expect, it } from "vitest";
import { slackMessage } from "../../src/adapters/report/webhook.ts";
import { plain, slackEscape } from "../../src/text.ts";

/** What a commit prints reaches terminals, the state and Slack: as text, never as commands. */
describe("text a commit wrote", () => {
  it("loses terminal escape sequences and control characters, keeping tabs and newlines", () => {
    const osc = "\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007";
    expect(plain(`${osc} \u001b[31mred\u001b[0m\tbell\u0007 back\bspace\r\nnext \u009b`)).toBe("click red\tbell backspace\nnext ");
  });

  it("cannot notify a Slack channel or hide a link", () => {
    expect(slackEscape("<!channel> <https://evil.example|docs> & co")).toBe("&lt;!channel&gt; &lt;https://evil.example|docs&gt; &amp; co");
    const { text } = slackMessage({ event: "failed", repository: "acme/shop", release: "shop", namespace: "shop", sha: "a".repeat(40), attempt: 1, at: "", phase: "build", message: "Error: <!channel> \u001b[31mboom\u001b[0m" });
    expect(text).toMatch(/: Error: &lt;!channel&gt; boom$/);
  });
});
