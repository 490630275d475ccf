import { describe, expect, it } from "vitest";
import { decide } from "../../src/reconcile/decide.ts";
import { parseFreezeWindows } from "../../src/reconcile/freeze.ts";
import { NO_GATES } from "../../src/reconcile/gates.ts";
import type { Action, Check, GateObservation, GatePolicy, Observation, Rules, RunnerState, WorkObservation } from "../../src/reconcile/types.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const DIGEST_C = `sha256:${"c".repeat(64)}`;
const AT = "2026-11-19T12:00:00.000Z";
const THURSDAY = "2026-11-19T12:00:00.000Z";
const FRIDAY_EVENING = "2026-11-20T17:00:00.000Z"; // 18:00 in Berlin (CET)
const MONDAY_0800_BERLIN = "2026-11-23T07:00:00.000Z";

const deployedB: RunnerState = { deployed: { sha: B, at: AT, digest: DIGEST_B, revision: 1 } };
const SKIP: GatePolicy = { ...NO_GATES, skipMarkers: true };
const AUTHORS: GatePolicy = { ...NO_GATES, skipAuthors: ["renovate[bot]", "bot@example.com"] };
const PATHS: GatePolicy = { ...NO_GATES, buildPaths: ["src", "Dockerfile"], deployPaths: ["chart", "values/prod.yaml"] };
const ALL_CHECKS: GatePolicy = { ...NO_GATES, checks: { kind: "all" } };
const TEST_CHECK: GatePolicy = { ...NO_GATES, checks: { kind: "named", names: ["test", "ci/jenkins"] } };
const BY_ACTIONS: GatePolicy = { ...NO_GATES, checks: { kind: "named", names: ["test@github-actions"] } };
const APPROVAL: GatePolicy = { ...NO_GATES, approval: true };
const FREEZE: GatePolicy = { ...NO_GATES, freeze: parseFreezeWindows("0 17 * * FRI 63h Europe/Berlin") };
const EVERY: GatePolicy = { ...SKIP, skipAuthors: AUTHORS.skipAuthors, buildPaths: PATHS.buildPaths, deployPaths: PATHS.deployPaths, checks: { kind: "all" }, approval: true, freeze: FREEZE.freeze };

const commit = (message: string, authorName = "Ada", authorEmail = "ada@example.com") => ({ commit: { message, authorName, authorEmail } });
const changed = (...files: string[]): GateObservation => ({ changes: { complete: true, base: B, files } });
const check = (name: string, state: Check["state"]): Check => ({ name, state, url: `https://ci.example/${name}` });
const green: GateObservation = { checkRuns: [check("test", "success"), check("ci/jenkins", "success")], statuses: [] };

/** One row's input: what was observed, and the rules decide reads beside it. */
interface Case {
  readonly observation: Observation;
  readonly rules: Rules;
}

function obs(policy: GatePolicy, gates: GateObservation, state: RunnerState = deployedB, now = THURSDAY): Case {
  return {
    observation: { head: A, state, now, gates, work: { release: { status: "deployed", revision: 1, imageTag: B }, build: undefined, registryDigest: undefined } },
    rules: { maxRetries: 3, helmTimeoutSeconds: 300, policy, verify: { helmTest: false } },
  };
}

const run = (c: Case) => decide(c.observation, c.rules);
const withWork = (c: Case, work: WorkObservation): Case => ({ ...c, observation: { ...c.observation, work } });

const build: Action = { kind: "start-build", sha: A, attempt: 1 };
const seen = (reason: string): Action => ({ kind: "record-seen", sha: A, reason });
const hold = (gate: "checks" | "approval" | "freeze", reason: string, until?: string): Action => ({ kind: "hold", sha: A, gate, reason, ...(until ? { until } : {}) });

const rows: [string, Case, Action][] = [
  // Skip markers and bot authors
  ["[skip ci] in the message: recorded as seen", obs(SKIP, commit("docs: typo [skip ci]")), seen("its message carries [skip ci]")],
  ["[CI SKIP], any case", obs(SKIP, commit("Docs [CI SKIP]")), seen("its message carries [ci skip]")],
  ["[skip deploy] in the body", obs(SKIP, commit("feat: x\n\n[skip deploy]")), seen("its message carries [skip deploy]")],
  ["no marker: built", obs(SKIP, commit("feat: x")), build],
  ["a marker but the gate is off: built, the message never asked", obs(NO_GATES, {}), build],
  ["bot author by name: recorded as seen", obs(AUTHORS, commit("chore(deps): bump", "renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com")), seen("its author renovate[bot] is in SKIP_AUTHORS")],
  ["bot author by email, any case", obs(AUTHORS, commit("x", "Bot", "BOT@example.com")), seen("its author bot@example.com is in SKIP_AUTHORS")],
  ["a person's commit: built", obs(AUTHORS, commit("x")), build],
  // Path filters
  ["a build path changed: built", obs(PATHS, changed("README.md", "src/app.ts")), build],
  ["a build path that is a file changed: built", obs(PATHS, changed("Dockerfile")), build],
  ["only the chart changed: deployed with the image the release runs", obs(PATHS, changed("chart/values.yaml")),
    { kind: "deploy", sha: A, attempt: 1, digest: DIGEST_B, lastAttempt: false, imageSha: B }],
  ["only a values file changed: the same", obs(PATHS, changed("values/prod.yaml", "docs/x.md")),
    { kind: "deploy", sha: A, attempt: 1, digest: DIGEST_B, lastAttempt: false, imageSha: B }],
  ["the running image came from an earlier commit: that image again", obs(PATHS, changed("chart/Chart.yaml"), { deployed: { sha: B, at: AT, digest: DIGEST_C, revision: 2, imageSha: C } }),
    { kind: "deploy", sha: A, attempt: 1, digest: DIGEST_C, lastAttempt: false, imageSha: C }],
  ["nothing relevant changed: recorded as seen", obs(PATHS, changed("README.md", "src2/notes.txt")),
    seen("nothing under BUILD_PATHS, the chart or the values files changed since bbbbbbbbbbbb")],
  ["a compare too large: built", obs(PATHS, { changes: { complete: false, base: B, why: "300 files changed" } }), build],
  ["nothing deployed yet: built without a compare", obs(PATHS, {}, {}), build],
  ["chart-only, but the release already runs the head (killed before recording): recorded",
    withWork(obs(PATHS, changed("chart/x.yaml")), { release: { status: "deployed", revision: 4, imageTag: A }, build: undefined, registryDigest: DIGEST_B }),
    { kind: "record-deployed", sha: A, revision: 4, digest: DIGEST_B }],
  // Checks
  ["every check green: built", obs(ALL_CHECKS, green), build],
  ["a red check run: set aside with its name and link", obs(ALL_CHECKS, { checkRuns: [check("test", "success"), check("lint", "failure")] }),
    { kind: "set-aside", sha: A, gate: "checks", reason: 'check "lint" failed: https://ci.example/lint' }],
  ["a red commit status: set aside", obs(ALL_CHECKS, { checkRuns: [check("test", "success")], statuses: [check("ci/jenkins", "failure")] }),
    { kind: "set-aside", sha: A, gate: "checks", reason: 'check "ci/jenkins" failed: https://ci.example/ci/jenkins' }],
  ["a pending check run: held, statuses not needed", obs(ALL_CHECKS, { checkRuns: [check("test", "pending")] }),
    hold("checks", 'waiting: check "test" is pending: https://ci.example/test')],
  ["no check at all yet: held", obs(ALL_CHECKS, { checkRuns: [], statuses: [] }), hold("checks", "waiting: no check has reported yet")],
  ["named checks green among the check runs: built without the statuses", obs(TEST_CHECK, { checkRuns: [check("test", "success"), check("ci/jenkins", "success"), check("flaky", "failure")] }), build],
  ["a named status pending: held", obs(TEST_CHECK, { checkRuns: [check("test", "success")], statuses: [check("ci/jenkins", "pending")] }),
    hold("checks", 'waiting: check "ci/jenkins" is pending: https://ci.example/ci/jenkins')],
  ["a named check missing everywhere: held", obs(TEST_CHECK, { checkRuns: [check("test", "success")], statuses: [] }), hold("checks", 'waiting: check "ci/jenkins" has not reported yet')],
  ["a required check reported by the App it names: built", obs(BY_ACTIONS, { checkRuns: [{ ...check("test", "success"), reporter: "github-actions" }] }), build],
  ["the same name reported green by another App (a pusher's own workflow) does not count: held", obs(BY_ACTIONS, { checkRuns: [{ ...check("test", "success"), reporter: "evil-app" }], statuses: [{ ...check("test", "success"), reporter: "pusher" }] }),
    hold("checks", 'waiting: check "test@github-actions" has not reported yet')],
  // Approval
  ["approval required, none: held", obs(APPROVAL, {}), hold("approval", `waiting for approval: \`ci-runner approve ${A}\``)],
  ["an older commit's approval does not count", obs(APPROVAL, {}, { ...deployedB, approved: { sha: B, by: "ada", at: AT } }), hold("approval", `waiting for approval: \`ci-runner approve ${A}\``)],
  ["approved by hand with kubectl (no who, no when): built", obs(APPROVAL, {}, { ...deployedB, approved: { sha: A } }), build],
  // Freeze windows
  ["inside the weekend freeze: held until Monday 08:00 Berlin", obs(FREEZE, {}, deployedB, FRIDAY_EVENING),
    hold("freeze", `deploy freeze "0 17 * * FRI 63h Europe/Berlin" until ${MONDAY_0800_BERLIN}`, MONDAY_0800_BERLIN)],
  ["the minute the freeze ends: built", obs(FREEZE, {}, deployedB, MONDAY_0800_BERLIN), build],
  ["a Thursday: built", obs(FREEZE, {}, deployedB, THURSDAY), build],
  ["a freeze holds the deploy of an image built before it began", obs(FREEZE, {}, { ...deployedB, built: { sha: A, digest: DIGEST_C } }, FRIDAY_EVENING),
    hold("freeze", `deploy freeze "0 17 * * FRI 63h Europe/Berlin" until ${MONDAY_0800_BERLIN}`, MONDAY_0800_BERLIN)],
  // Order: skip, paths, checks, approval, freeze
  ["a skip marker wins over pending checks", obs(EVERY, { ...commit("[skip ci]"), checkRuns: [check("test", "pending")] }), seen("its message carries [skip ci]")],
  ["nothing relevant wins over a missing approval", obs(EVERY, { ...commit("x"), ...changed("README.md") }, deployedB, FRIDAY_EVENING),
    seen("nothing under BUILD_PATHS, the chart or the values files changed since bbbbbbbbbbbb")],
  ["a red check sets aside before approval is asked", obs(EVERY, { ...commit("x"), ...changed("src/a.ts"), checkRuns: [check("lint", "failure")] }),
    { kind: "set-aside", sha: A, gate: "checks", reason: 'check "lint" failed: https://ci.example/lint' }],
  ["approved and green, but frozen: held by the freeze", obs(EVERY, { ...commit("x"), ...changed("src/a.ts"), ...green }, { ...deployedB, approved: { sha: A } }, FRIDAY_EVENING),
    hold("freeze", `deploy freeze "0 17 * * FRI 63h Europe/Berlin" until ${MONDAY_0800_BERLIN}`, MONDAY_0800_BERLIN)],
  ["every gate passed: built", obs(EVERY, { ...commit("x"), ...changed("src/a.ts"), ...green }, { ...deployedB, approved: { sha: A } }), build],
];

// A commit rolled back (or otherwise set aside) stays set aside whatever each gate says.
const setAsideA: RunnerState = { ...deployedB, setAside: { sha: A, reason: "failed 3 of 3 attempts; last: helm upgrade failed and was rolled back" }, approved: { sha: A } };
const stays: Action = { kind: "skip-set-aside", sha: A, reason: setAsideA.setAside?.reason ?? "" };
const setAsideRows: [string, Case][] = [
  ["skip markers (no marker)", obs(SKIP, commit("x"), setAsideA)],
  ["bot authors (a person)", obs(AUTHORS, commit("x"), setAsideA)],
  ["path filter: a build path changed", obs(PATHS, changed("src/a.ts"), setAsideA)],
  ["path filter: only the chart changed", obs(PATHS, changed("chart/values.yaml"), setAsideA)],
  ["checks: all green now", obs(ALL_CHECKS, green, setAsideA)],
  ["approval: approved", obs(APPROVAL, {}, setAsideA)],
  ["freeze: the window is over", obs(FREEZE, {}, setAsideA, MONDAY_0800_BERLIN)],
  ["every gate passing at once", obs(EVERY, { ...commit("x"), ...changed("src/a.ts"), ...green }, setAsideA)],
];

describe("decide with gates", () => {
  it.each(rows)("%s", (_name, c, expected) => {
    expect(run(c)).toEqual(expected);
  });

  it.each(setAsideRows)("a set-aside head stays set aside with %s", (_name, c) => {
    expect(run(c)).toEqual(stays);
  });

  it("a head recorded as seen stays seen", () => {
    expect(run(obs(EVERY, {}, { ...deployedB, seen: { sha: A, reason: "its message carries [skip ci]" } }))).toEqual({ kind: "skipped", sha: A, reason: "its message carries [skip ci]" });
  });

  it("refuses to decide a gate it was not shown", () => {
    expect(() => run(obs(SKIP, {}))).toThrow(/message and author were not observed/);
    expect(() => run(obs(PATHS, {}))).toThrow(/changes since the deployed commit were not observed/);
    expect(() => run(obs(PATHS, { changes: { complete: true, base: C, files: [] } }))).toThrow(/changes since the deployed commit were not observed/);
    expect(() => run(obs(ALL_CHECKS, {}))).toThrow(/check runs were not observed/);
    expect(() => run(obs(ALL_CHECKS, { checkRuns: [check("test", "success")] }))).toThrow(/commit statuses were not observed/);
  });
});
