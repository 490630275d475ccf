import { describe, expect, it } from "vitest";
import { classifyGitFailure } from "../../src/adapters/chart/git-errors.ts";

const URL = "'https://git.example/acme/shop.git/'";

describe("git failures by git's own messages", () => {
  it.each([
    [`fatal: unable to access ${URL}: The requested URL returned error: 403`, { kind: "refused", status: 403 }],
    [`remote: Invalid username or password.\nfatal: Authentication failed for ${URL}`, { kind: "refused" }],
    ["fatal: could not read Username for 'https://git.example': terminal prompts disabled", { kind: "refused" }],
    [`remote: Repository not found.\nfatal: repository ${URL} not found`, { kind: "not-found" }],
    [`fatal: unable to access ${URL}: The requested URL returned error: 404`, { kind: "not-found" }],
    [`fatal: unable to access ${URL}: server certificate verification failed. CAfile: none CRLfile: none`, { kind: "certificate" }],
    [`fatal: unable to access ${URL}: SSL certificate problem: unable to get local issuer certificate`, { kind: "certificate" }],
    [`fatal: unable to access ${URL}: The requested URL returned error: 502`, { kind: "other" }],
    ["fatal: remote error: upload-pack: not our ref 4013403401403401403401403401403401403401", { kind: "other" }],
    ["error: 403 is not a valid object name\nfatal: the remote hung up: Authentication failed for you", { kind: "other" }],
  ])("%s", (stderr, expected) => {
    expect(classifyGitFailure(stderr)).toEqual(expected);
  });
});
