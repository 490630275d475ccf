import { describe, expect, it } from "vitest";
import { createLogger, formatPretty, Secrets } from "../../src/log.ts";

function capture(pretty = false) {
  const lines: string[] = [];
  const secrets = new Secrets();
  const log = createLogger({ level: "debug", pretty, secrets, write: (l) => lines.push(l) });
  return { lines, secrets, log };
}

describe("log redaction", () => {
  it("hides secrets by key", () => {
    const { lines, log } = capture();
    log.info({ token: "abc", nested: { password: "pw", authorization: "Bearer x" } }, "Called");
    const record = JSON.parse(lines[0] ?? "{}");
    expect(record.token).toBe("[REDACTED]");
    expect(record.nested.password).toBe("[REDACTED]");
    expect(record.nested.authorization).toBe("[REDACTED]");
  });

  it("hides a known secret value wherever it appears, in plain and encoded forms", () => {
    const { lines, secrets, log } = capture();
    const token = "tkn_0123456789abcdefghij";
    secrets.add(token);
    secrets.addBasic("robot", "s3cr3t-pass");
    log.info({ line: `fatal: https://x-access-token:${token}@github.com`, b64: Buffer.from(token).toString("base64") }, "Build output");
    log.error({ err: new Error(`auth ${Buffer.from("robot:s3cr3t-pass").toString("base64")}`) }, "Failed");
    const all = lines.join("");
    expect(all).not.toContain(token);
    expect(all).not.toContain(Buffer.from(token).toString("base64"));
    expect(all).not.toContain("s3cr3t-pass");
    expect(all).not.toContain(Buffer.from("robot:s3cr3t-pass").toString("base64"));
    expect(all.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it("hides secret-named keys at every depth, in arrays, in child bindings, in any letter case", () => {
    const { lines, log } = capture();
    const shared = { password: "pw-shared" };
    log.child({ request: { headers: { Authorization: "Bearer deep-1" } } }).info(
      { a: { b: { c: { token: "deep-2", keep: "visible" } } }, list: [{ GIT_TOKEN: "deep-3" }], one: shared, two: shared },
      "Called",
    );
    const record = JSON.parse(lines[0] ?? "{}");
    expect(record.request.headers.Authorization).toBe("[REDACTED]");
    expect(record.a.b.c).toEqual({ token: "[REDACTED]", keep: "visible" });
    expect(record.list[0].GIT_TOKEN).toBe("[REDACTED]");
    expect([record.one.password, record.two.password]).toEqual(["[REDACTED]", "[REDACTED]"]);
    expect(lines[0]).not.toMatch(/deep-\d|pw-shared/);
  });

  it("hides a token in the Basic credentials git sends with it, and after any user name", () => {
    const { lines, secrets, log } = capture();
    const token = "tkn_0123456789abcdefghij";
    secrets.add(token);
    const gitHeader = `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
    const otherUsers = ["oauth2", "git", "ab"].map((user) => Buffer.from(`${user}:${token}`).toString("base64"));
    log.info({ header: gitHeader, otherUsers }, "Relayed output");
    expect(lines[0]).not.toContain(Buffer.from(`x-access-token:${token}`).toString("base64"));
    expect(lines[0]).toContain("Authorization: Basic [REDACTED]");
    for (const encoded of otherUsers) expect(lines[0]).not.toContain(encoded.slice(4, -4));
  });

  it("prints a readable line on a terminal", () => {
    const { lines, log } = capture(true);
    log.info({ sha: "abc", n: 2 }, "Created build Job");
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO  Created build Job {2}sha=abc n=2\n$/);
    expect(formatPretty("not json")).toBe("not json");
  });
});
