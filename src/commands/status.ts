import type { Config } from "../config/load.ts";
import type { ExitCode } from "../errors.ts";
import { failuresFor } from "../reconcile/attempts.ts";
import { decideGates, recorded } from "../reconcile/decide.ts";
import { viewLease } from "../reconcile/lease.ts";
import { observeGates } from "../reconcile/observe.ts";
import type { Ports } from "../reconcile/ports.ts";
import type { RunnerState, StateSnapshot } from "../reconcile/types.ts";
import { plain, short } from "../text.ts";
import { render } from "./render.ts";

export type StatusFormat = "table" | "json" | "yaml";

export interface StatusReport {
  readonly target: { repo: string; branch: string; release: string; namespace: string; state: string };
  readonly deployed: { sha: string; at: string; image: string; digest: string | null; revision: number | null } | null;
  /** The checks after Ready (VERIFY), the last commit that passed them, and a deployed commit whose checks have not ended. */
  readonly verification: { checks: string[]; verified: { sha: string; at: string; revision: number | null } | null; pending: { sha: string; revision: number | null } | null };
  readonly release: { status: string; revision: number | null } | { error: string };
  readonly head: { sha: string; deployed: boolean } | { error: string };
  readonly building: { job: string; sha: string; attempt: number; startedAt: string | null }[] | { error: string };
  readonly setAside: { sha: string; reason: string; attempts: number } | null;
  /** What the gates do with the head now: hold it (and until when), record it as seen, set it aside. */
  readonly gate: { sha: string; action: "hold" | "record-seen" | "set-aside"; gate: string; reason: string; until: string | null } | null | { error: string };
  /** The last head recorded as seen and not built, and why. */
  readonly skipped: { sha: string; reason: string } | null;
  readonly approved: { sha: string; by: string | null; at: string | null } | null;
  readonly lastError: { sha: string; message: string; at: string } | null;
  readonly lease: { holder: string; expiresAt: string } | null;
  readonly warnings: readonly string[];
}

type StatusPorts = Pick<Ports, "state" | "source" | "gates" | "builds" | "releases" | "clock">;

/** Gathers what is deployed and what is going on; parts that cannot be reached say why. */
export async function gatherStatus(config: Config, ports: StatusPorts): Promise<StatusReport> {
  const snapshot: StateSnapshot = await ports.state.read();
  const { state } = snapshot;
  const [release, head, building] = await Promise.all([
    ports.releases.observe().then((r) => ({ status: r.status, revision: r.revision ?? null }), failed),
    ports.source.branchHead(state.head).then((h) => ({ sha: h.sha, deployed: h.sha === state.deployed?.sha }), failed),
    ports.builds.inFlight().then((jobs) => jobs.map((j) => ({ job: j.name, sha: j.sha, attempt: j.attempt, startedAt: j.startedAt ?? null })), failed),
  ]);
  const gate = "error" in head ? null : await gateOf(config, ports, head.sha, state).catch(failed);
  const lease = viewLease(state, "", ports.clock.now());
  const failures = state.setAside ? failuresFor(state.setAside.sha, state) : 0;
  return {
    target: { repo: `${config.repo.owner}/${config.repo.name}`, branch: config.branch, release: config.release, namespace: config.deployNamespace, state: `${config.cicdNamespace}/${config.stateConfigMap}` },
    deployed: state.deployed
      ? { sha: state.deployed.sha, at: state.deployed.at, image: `${config.image}:${state.deployed.imageSha ?? state.deployed.sha}`, digest: state.deployed.digest ?? null, revision: state.deployed.revision ?? null }
      : null,
    verification: {
      checks: config.verify.helmTest ? ["helm-test"] : [],
      verified: state.verified ? { sha: state.verified.sha, at: state.verified.at, revision: state.verified.revision ?? null } : null,
      pending: state.verifying ? { sha: state.verifying.sha, revision: state.verifying.revision ?? null } : null,
    },
    release,
    head,
    building,
    setAside: state.setAside ? { ...state.setAside, attempts: failures } : null,
    gate,
    skipped: state.seen ?? null,
    approved: state.approved ? { sha: state.approved.sha, by: state.approved.by ?? null, at: state.approved.at ?? null } : null,
    lastError: state.lastError ?? null,
    lease: lease.kind === "busy" ? { holder: lease.lease.holder, expiresAt: lease.lease.expiresAt } : null,
    warnings: [...config.warnings, ...snapshot.warnings],
  };
}

export async function runStatus(config: Config, ports: StatusPorts, format: StatusFormat, out: (text: string) => void): Promise<ExitCode> {
  const report = await gatherStatus(config, ports);
  out(format === "table" ? renderTable(report) : render(report, format));
  return 0;
}

/** The gates' verdict on a head that needs work, as the next pass would reach it (the same pure rules). */
async function gateOf(config: Config, ports: StatusPorts, head: string, state: RunnerState): Promise<StatusReport["gate"]> {
  if (recorded(head, state) !== undefined) return null;
  const gates = await observeGates(ports.gates, config.gates, head, state);
  const now = ports.clock.now().toISOString();
  const action = decideGates({ head, state, now, gates }, { maxRetries: config.maxRetries, helmTimeoutSeconds: config.helmTimeoutSeconds, policy: config.gates, verify: config.verify });
  switch (action?.kind) {
    case "hold":
      return { sha: head, action: "hold", gate: action.gate, reason: action.reason, until: action.until ?? null };
    case "record-seen":
      return { sha: head, action: "record-seen", gate: "skip", reason: action.reason, until: null };
    case "set-aside":
      return { sha: head, action: "set-aside", gate: action.gate, reason: action.reason, until: null };
    default:
      return null;
  }
}

function failed(error: unknown): { error: string } {
  return { error: error instanceof Error ? error.message : String(error) };
}

function gateLine(g: Exclude<StatusReport["gate"], null | { error: string }>): string {
  if (g.action === "hold") return `${short(g.sha)} held by ${g.gate}${g.until ? ` until ${g.until}` : ""}: ${g.reason}`;
  if (g.action === "record-seen") return `${short(g.sha)} is not worth building (the next pass records it as seen): ${g.reason}`;
  return `${short(g.sha)} refused by ${g.gate} (the next pass sets it aside): ${g.reason}`;
}

function verificationLine(v: StatusReport["verification"]): string {
  if (v.checks.length === 0 && v.verified === null) return "no checks configured (VERIFY)";
  const last = v.verified ? `${short(v.verified.sha)} at ${v.verified.at}${v.verified.revision !== null ? ` (revision ${v.verified.revision})` : ""}` : "nothing yet";
  const pending = v.pending ? `; ${short(v.pending.sha)} is deployed and its checks have not ended` : "";
  return `${last}${pending}${v.checks.length > 0 ? ` [${v.checks.join(", ")}]` : ""}`;
}

export function renderTable(r: StatusReport): string {
  const rows: [string, string][] = [
    ["Target", `${r.target.repo}@${r.target.branch} -> release ${r.target.release} in ${r.target.namespace}`],
    ["Deployed", r.deployed ? `${short(r.deployed.sha)} at ${r.deployed.at}` : "nothing yet"],
    ["Image", r.deployed ? `${r.deployed.image}${r.deployed.digest ? ` (${r.deployed.digest})` : ""}` : "-"],
    ["Verified", verificationLine(r.verification)],
    ["Release", "error" in r.release ? `unavailable: ${r.release.error}` : `${r.release.status}${r.release.revision !== null ? `, revision ${r.release.revision}` : ""}`],
    ["Branch head", "error" in r.head ? `unavailable: ${r.head.error}` : `${short(r.head.sha)}${r.head.deployed ? " (deployed)" : " (not deployed yet)"}`],
    ["Building", "error" in r.building ? `unavailable: ${r.building.error}` : r.building.length === 0 ? "nothing" : r.building.map((b) => `${b.job} (attempt ${b.attempt})`).join(", ")],
    ["Set aside", r.setAside ? `${short(r.setAside.sha)} after ${r.setAside.attempts} failed attempts: ${r.setAside.reason}` : "nothing"],
    ["Gate", r.gate === null ? "nothing holds the head" : "error" in r.gate ? `unavailable: ${r.gate.error}` : gateLine(r.gate)],
    ["Skipped", r.skipped ? `${short(r.skipped.sha)}: ${r.skipped.reason}` : "nothing"],
    ["Approved", r.approved ? `${short(r.approved.sha)} by ${r.approved.by ?? "(unknown: set by hand)"}${r.approved.at ? ` at ${r.approved.at}` : ""}` : "nothing"],
    ["Last error", r.lastError ? `${short(r.lastError.sha)} at ${r.lastError.at}: ${r.lastError.message}` : "none"],
    ["Lease", r.lease ? `held by ${r.lease.holder} until ${r.lease.expiresAt}` : "free"],
    ["State", r.target.state],
    ...r.warnings.map((w): [string, string] => ["Warning", w]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  // Reasons and errors hold what a commit printed: a terminal gets them without escape sequences.
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${plain(v)}`).join("\n") + "\n";
}
