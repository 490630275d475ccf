import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_LINE, streamLines } from "../../../src/adapters/kube/stream.ts";
import { kubeConfigFor } from "../../support/kube.ts";

let close: (() => void) | undefined;
afterEach(() => close?.());

/** A loopback API server whose one answer is `chunks`, written one after another. */
async function streaming(chunks: string[]): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    for (const chunk of chunks) res.write(chunk);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  close = () => { server.closeAllConnections(); server.close(); };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("streamed lines (a watch, a followed log)", () => {
  it("hands on complete lines across chunks", async () => {
    const lines: string[] = [];
    await streamLines(kubeConfigFor(await streaming(["one\ntw", "o\nthree"])), "/log", new AbortController().signal, (l) => lines.push(l));
    expect(lines).toEqual(["one", "two", "three"]);
  });

  it("a line without an end (40 MB of it) is cut at MAX_LINE and never held whole; the next line comes through", async () => {
    const lines: string[] = [];
    const megabyte = "x".repeat(1024 * 1024);
    const url = await streaming([...Array.from({ length: 40 }, () => megabyte), "\nnext\n"]);
    await streamLines(kubeConfigFor(url), "/log", new AbortController().signal, (l) => lines.push(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]?.length).toBeLessThan(MAX_LINE + 100);
    expect(lines[0]).toMatch(/^x+… \(line cut at 16384 characters\)$/);
    expect(lines[1]).toBe("next");
  });
});
