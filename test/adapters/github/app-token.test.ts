import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { GitHubAppToken } from "../../../src/adapters/github/app-token.ts";
import { ConfigError } from "../../../src/errors.ts";
import { Secrets } from "../../../src/log.ts";
import { githubFakeServer } from "../../support/github-fake.ts";
import { testLog } from "../../support/pass-context.ts";

const keys = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = (k: ReturnType<typeof keys>) => ({ privateKey: k.privateKey.export({ type: "pkcs1", format: "pem" }).toString(), publicKey: k.publicKey.export({ type: "spki", format: "pem" }).toString() });
const APP = pem(keys());
let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
});

async function setUp(options: { repo?: string; privateKey?: string; now?: () => number } = {}) {
  const server = await githubFakeServer({ token: "unused-personal-token", app: { id: 777, publicKeyPem: APP.publicKey, installationId: 4321, owner: "acme", installedOn: (repo) => repo === "acme/shop" } });
  close = server.close;
  const secrets = new Secrets();
  const lines: string[] = [];
  const app = new GitHubAppToken({
    credentials: { appId: 777, privateKey: options.privateKey ?? APP.privateKey }, baseUrl: server.url, owner: "acme", repo: options.repo ?? "shop",
    secrets, log: testLog(lines), ...(options.now ? { now: options.now } : {}),
  });
  return { fake: server.fake, app, secrets, lines, url: server.url };
}

describe("GitHub App installation tokens", () => {
  it("finds the installation from the repository with a signed JWT, mints a token for that one repository, and scrubs it and the key from logs", async () => {
    const { fake, app, secrets, lines } = await setUp();
    const token = await app.token();
    expect(token).toMatch(/^ghs_/);
    expect(fake.minted).toEqual([{ token, expiresAt: expect.any(Number), repos: ["acme/shop"], permissions: expect.objectContaining({ deployments: "write" }) }]);
    expect(fake.jwtsSeen).toHaveLength(2); // the installation lookup and the mint, each verified against the App's public key
    expect(fake.tokenCovers(token, "acme/shop")).toBe(true);
    expect(secrets.scrub(`token ${token} key ${APP.privateKey}`)).toBe("token [REDACTED] key [REDACTED]");
    expect(lines.join("\n")).toContain("Minted a GitHub App installation token");
    expect(lines.join("\n")).not.toContain(token);
    expect(fake.problems).toEqual([]);
  });

  it("the build pod's token may only read this repository's contents, and is held apart from the runner's", async () => {
    const { fake, app, url } = await setUp();
    const build = await app.buildToken();
    const runner = await app.token();
    expect(build).not.toBe(runner);
    expect(await app.buildToken()).toBe(build);
    expect(fake.minted.map((m) => m.permissions)).toEqual([{ contents: "read" }, expect.objectContaining({ deployments: "write", statuses: "write" })]);
    // What a Dockerfile's RUN step could do with it: post a green status for a later commit. Refused.
    const post = (token: string) => fetch(`${url}/repos/acme/shop/statuses/${"a".repeat(40)}`, { method: "POST", headers: { authorization: `token ${token}`, "content-type": "application/json" }, body: JSON.stringify({ state: "success", context: "required-check" }) });
    expect((await post(build)).status).toBe(403);
    expect((await post(runner)).status).toBe(201);
    expect(fake.problems).toEqual([]);
  });

  it("the same token for the rest of the run, a fresh one when less than ten minutes are left", async () => {
    let now = Date.now();
    const { fake, app } = await setUp({ now: () => now });
    const first = await app.token();
    expect(await app.token()).toBe(first);
    now += 55 * 60_000;
    const second = await app.token();
    expect(second).not.toBe(first);
    expect(fake.minted).toHaveLength(2);
    expect(fake.problems).toEqual([]);
  });

  it("an App that is not installed on the repository is a configuration error saying where to install it", async () => {
    const { app } = await setUp({ repo: "elsewhere" });
    const error = await app.token().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/the App 777 is not installed on acme\/elsewhere \(404\)/);
  });

  it("a key that is not the App's: GitHub refuses the JWT, a configuration error naming the settings", async () => {
    const { app, fake } = await setUp({ privateKey: pem(keys()).privateKey });
    const error = await app.token().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).remedy).toMatch(/GITHUB_APP_ID \(777\).*GITHUB_APP_PRIVATE_KEY/);
    expect(fake.problems).toEqual(["GET /repos/acme/shop/installation: JWT signature does not verify with the App's public key"]);
  });
});
