import { describe, expect, it } from "vitest";
import { httpTransport } from "../../../src/adapters/http/transport.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const server = strictServerPerTest();
const other = strictServerPerTest();


describe("GitHub transport on node:http(s)", () => {
  it("answers like a Response: status, url, headers by name and as entries, text and bytes", async () => {
    server.expect({ method: "GET", path: "/a?b=1", check: (r) => expect(r.headers["x-one"]).toBe("1"), reply: { status: 200, headers: { etag: '"e"', "X-Mixed": "Yes" }, body: { ok: true } } });
    const response = await httpTransport()(`${server.url}/a?b=1`, { headers: { "x-one": "1" } });
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.url).toBe(`${server.url}/a?b=1`);
    expect(response.headers.get("ETag")).toBe('"e"');
    expect(Object.fromEntries(response.headers)).toMatchObject({ etag: '"e"', "x-mixed": "Yes", "content-type": "application/json" });
    expect(await response.text()).toBe('{"ok":true}');
    expect(Buffer.from(await response.arrayBuffer()).toString("utf8")).toBe('{"ok":true}');
    server.verify();
  });

  it("sends a string body with its length", async () => {
    server.expect({ method: "POST", path: "/p", check: (r) => { expect(r.body).toBe('{"x":"é"}'); expect(r.headers["content-length"]).toBe("10"); }, reply: { status: 201, body: "" } });
    expect((await httpTransport()(`${server.url}/p`, { method: "POST", body: '{"x":"é"}' })).status).toBe(201);
    server.verify();
  });

  it("follows a redirect, and drops the token when it leaves the origin", async () => {
    server.expect(
      { method: "GET", path: "/renamed", check: (r) => expect(r.headers.authorization).toBe("token t"), reply: { status: 301, headers: { location: "/moved" } } },
      { method: "GET", path: "/moved", check: (r) => expect(r.headers.authorization).toBe("token t"), reply: { status: 307, headers: { location: `${other.url}/elsewhere` } } },
    );
    other.expect({ method: "GET", path: "/elsewhere", check: (r) => expect(r.headers.authorization).toBeUndefined(), reply: { status: 200, body: "there" } });
    const response = await httpTransport()(`${server.url}/renamed`, { headers: { authorization: "token t" } });
    expect([response.status, response.url, response.redirected, await response.text()]).toEqual([200, `${other.url}/elsewhere`, true, "there"]);
    server.verify();
    other.verify();
  });

  it("a silent server ends the request after the idle timeout", async () => {
    server.expect({ method: "GET", path: "/slow", reply: { status: 200, hold: true } });
    await expect(httpTransport({ idleTimeoutMs: 200 })(`${server.url}/slow`)).rejects.toThrow(/no answer from 127\.0\.0\.1:\d+ within 0\.2 s/);
    server.verify();
  });

  it("an aborted signal ends the request as an AbortError", async () => {
    server.expect({ method: "GET", path: "/held", reply: { status: 200, hold: true } });
    const controller = new AbortController();
    const pending = httpTransport()(`${server.url}/held`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    server.verify();
  });

  it("refuses a body it cannot send rather than sending an empty one", async () => {
    await expect(httpTransport()(`${server.url}/x`, { method: "POST", body: new Blob(["x"]) })).rejects.toThrow(/not supported/);
  });
});
