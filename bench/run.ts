// `npm run bench`: the cost of a tick, measured against the local control plane, registry, git
// server and GitHub endpoint of the real-cluster tests, for both ways ci-runner starts: the bundle
// (bin/ci-runner.js: development, the tests, `npx ci-runner`) and the V8 startup snapshot the image
// runs (`node --snapshot-blob <blob> -- <args>`; the blob is made here by the same Node binary, as
// the Dockerfile makes it). Runs of the two alternate, so both see the same machine. Prints one
// table of medians and ratios (also written to bench/results.md). `--quick` runs 3 repetitions
// instead of 10 (CI uses it so the benchmark cannot rot). Requests are counted by the servers: the
// API proxy and the git server.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { api } from "../test/e2e/env/control-plane.ts";
import { bootEnvironment, missingHostTools, REPO_ROOT } from "../test/e2e/env/environment.ts";
import { e2eWorld, type World } from "../test/e2e/support/world.ts";
import { measureRealNode, renderRealNode } from "./real-node.ts";

const quick = process.argv.includes("--quick");
/**
 * `--against <checkout>`: one more variant, the bundle of another checkout (another commit, its
 * `npm ci` done), measured in the same run on the same machine: the baseline a change is held to.
 */
const against = process.argv.includes("--against") ? process.argv[process.argv.indexOf("--against") + 1] : undefined;
const REPS = quick ? 3 : 10;
const TARGETS = 50;
const BATCHES = quick ? 1 : 3;

/** How a variant starts ci-runner: the argv before ci-runner's own arguments. */
interface Variant { readonly name: string; readonly argv: readonly string[] }

interface Timed { wallMs: number; rssKb: number; cpuMs: number; code: number | null; stderr: string }

/** Runs a command under GNU time: wall clock from spawn to exit, peak RSS and CPU of the child. */
function timed(file: string, args: string[], env: Record<string, string>): Promise<Timed> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "%M %U %S", file, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      const [rss = "0", user = "0", sys = "0"] = (stderr.trim().split("\n").at(-1) ?? "").split(" ");
      resolve({ wallMs, rssKb: Number(rss), cpuMs: (Number(user) + Number(sys)) * 1000, code, stderr });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function main() {
  const missing = missingHostTools(["curl", "/usr/bin/time"]);
  if (missing.length > 0) throw new Error(`bench needs ${missing.join(", ")} (scripts/host-tools.sh)`);
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  const variants = [
    { name: "bundle", argv: [join(REPO_ROOT, "bin", "ci-runner.js")] },
    { name: "snapshot (as the image runs it)", argv: ["--snapshot-blob", buildSnapshot(), "--"] },
    ...(against ? [{ name: `bundle at ${baselineName(against)}`, argv: [join(against, "bin", "ci-runner.js")] }] : []),
  ];
  const { info, stop } = await bootEnvironment(join(REPO_ROOT, ".testenv", "bench"));
  const world = await e2eWorld(info);
  let table: string;
  try {
    const rows = await measure(world, variants);
    table = render(rows, variants, info);
  } finally {
    await world.close();
    await stop();
  }
  // After the simulated cluster is down: the two would fight over the cores.
  table += renderRealNode(await measureRealNode(quick ? 2 : 5));
  console.log(table);
  writeFileSync(join(REPO_ROOT, "bench", "results.md"), table);
}

/** The baseline checkout's commit, for the table's heading. */
function baselineName(dir: string): string {
  try {
    return execFileSync("git", ["-C", dir, "log", "-1", "--format=%h"], { encoding: "utf8" }).trim();
  } catch {
    return dir;
  }
}

/**
 * The blob as the Dockerfile makes it (same Node binary, same entry, warm-up included), at a fixed
 * path outside the environment folder that each boot empties.
 */
function buildSnapshot(): string {
  const dir = join(REPO_ROOT, ".testenv", "bench-snapshot");
  mkdirSync(dir, { recursive: true });
  const blob = join(dir, "ci-runner.blob");
  execFileSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", join(REPO_ROOT, "dist", "ci-runner-snapshot.cjs")], { stdio: ["ignore", "ignore", "pipe"] });
  return blob;
}

interface Row { figure: string; values: string[]; target: string; ok?: boolean[] }

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function measure(world: World, variants: readonly Variant[]): Promise<Row[]> {
  const node = process.execPath;
  const app = world.app("bench");
  let sha = app.commit();
  const base = { PATH: process.env.PATH ?? "", HOME: world.home, ...app.env("helm4") };
  const first = await timed(node, [...(variants[0]?.argv ?? []), "sync", "--once"], base);
  if (first.code !== 0) throw new Error(`first deploy failed:\n${first.stderr}`);

  // Idle ticks of each variant, alternating, and the floor: one ConfigMap GET with kubectl plus one
  // GET of the GitHub endpoint.
  const idle = variants.map(() => [] as Timed[]);
  const gh = variants.map(() => [] as { requests: number; counted: number }[]);
  const kube = variants.map(() => [] as number[]);
  const floor: Timed[] = [];
  const floorScript = `"${world.info.kubectl}" --kubeconfig "${world.adminKubeconfig}" -n cicd get configmap ci-runner-bench -o name >/dev/null && curl -sf -o /dev/null -H 'If-None-Match: "${sha}"' "${world.git.apiUrl}/repos/acme/bench/commits/main"`;
  for (let i = 0; i < REPS + 1; i++) {
    for (const [v, variant] of variants.entries()) {
      const before = await world.gitStats();
      const requests = world.proxy.requests.length;
      const run = await timed(node, [...variant.argv, "sync", "--once"], base);
      if (run.code !== 0) throw new Error(`idle tick (${variant.name}) failed:\n${run.stderr}`);
      const after = await world.gitStats();
      if (i === 0) continue; // warm-up: fills the bundle's compile cache, as every tick after the first has it
      idle[v]?.push(run);
      gh[v]?.push({ requests: after.apiRequests - before.apiRequests, counted: after.apiCounted - before.apiCounted });
      kube[v]?.push(world.proxy.requests.length - requests);
    }
    if (i > 0) floor.push(await timed("sh", ["-c", floorScript], { PATH: process.env.PATH ?? "", HOME: world.home }));
  }

  // What no variant can go below: Node's own start, and the snapshot's start without any network.
  const nodeAlone: Timed[] = [];
  const versions = variants.map(() => [] as Timed[]);
  for (let i = 0; i < REPS; i++) {
    nodeAlone.push(await timed(node, ["-e", "0"], { PATH: process.env.PATH ?? "" }));
    for (const [v, variant] of variants.entries()) versions[v]?.push(await timed(node, [...variant.argv, "--version"], { PATH: process.env.PATH ?? "" }));
  }

  // Full syncs of new commits: overhead = wall - build Job time - helm upgrade time.
  const spyDir = mkdtempSync(join(world.root, "helm-timing-"));
  const helmLog = join(spyDir, "helm.log");
  const helmWrapper = join(spyDir, "helm");
  writeFileSync(helmWrapper, `#!/bin/sh\necho "start $(date +%s%3N) $1" >> '${helmLog}'\n'${world.info.helm4}' "$@"\nrc=$?\necho "end $(date +%s%3N) $1" >> '${helmLog}'\nexit $rc\n`, { mode: 0o755 });
  const overheads = variants.map(() => [] as number[]);
  const handoffs = variants.map(() => [] as number[]);
  const fulls = variants.map(() => [] as number[]);
  for (let i = 0; i < REPS; i++) {
    for (const [v, variant] of variants.entries()) {
      sha = app.commit();
      writeFileSync(helmLog, "");
      const run = await timed(node, [...variant.argv, "sync", "--once"], { ...base, HELM_BIN: helmWrapper });
      if (run.code !== 0) throw new Error(`full sync (${variant.name}) failed:\n${run.stderr}`);
      const logs = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; time: string });
      const at = (msg: string) => Date.parse(logs.find((l) => l.msg === msg)?.time ?? "");
      const jobMs = at("Build Job finished") - at("Created build Job");
      const helmLines = readFileSync(helmLog, "utf8").trim().split("\n").map((l) => l.split(" "));
      const upgradeStart = Number(helmLines.find((l) => l[0] === "start" && l[2] === "upgrade")?.[1]);
      const upgradeEnd = Number(helmLines.find((l) => l[0] === "end" && l[2] === "upgrade")?.[1]);
      fulls[v]?.push(run.wallMs);
      overheads[v]?.push(run.wallMs - jobMs - (upgradeEnd - upgradeStart));
      handoffs[v]?.push(upgradeStart - at("Build Job finished"));
    }
  }

  // 50 targets ticking at once: 50 state ConfigMaps already at the head, 50 processes; the
  // variants take turns, one batch at a time.
  for (let n = 0; n < TARGETS; n++) await seedIdleState(world, `bench-${n}`, sha);
  const batches = variants.map(() => [] as number[]);
  const failures = variants.map(() => 0);
  for (let b = 0; b < BATCHES; b++) {
    for (const [v, variant] of variants.entries()) {
      const batchStart = performance.now();
      const batch = await Promise.all(Array.from({ length: TARGETS }, (_, n) => timed(node, [...variant.argv, "sync", "--once"], { ...base, RELEASE: `bench-${n}`, DEPLOY_NS: `bench-${n}` })));
      batches[v]?.push(performance.now() - batchStart);
      failures[v] = (failures[v] ?? 0) + batch.filter((r) => r.code !== 0 || /"level":"(warn|error)"/.test(r.stderr)).length;
    }
  }

  // What limits the batch: the same 50 processes with no network (start-up only), and 50 floors
  // at once (what the API server, the proxy and the GitHub endpoint take for 50 at once).
  const startups = variants.map(() => [] as number[]);
  const floorBatches: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    for (const [v, variant] of variants.entries()) {
      const started = performance.now();
      await Promise.all(Array.from({ length: TARGETS }, () => timed(node, [...variant.argv, "--version"], { PATH: process.env.PATH ?? "" })));
      startups[v]?.push(performance.now() - started);
    }
    const started = performance.now();
    await Promise.all(Array.from({ length: TARGETS }, () => timed("sh", ["-c", floorScript], { PATH: process.env.PATH ?? "", HOME: world.home })));
    floorBatches.push(performance.now() - started);
  }

  const floorWall = median(floor.map((r) => r.wallMs));
  const floorRss = median(floor.map((r) => r.rssKb)) / 1024;
  const per = <T>(f: (v: number) => T) => variants.map((_, v) => f(v));
  const idleWall = per((v) => median(idle[v]?.map((r) => r.wallMs) ?? []));
  const idleCpu = per((v) => median(idle[v]?.map((r) => r.cpuMs) ?? []));
  const rss = per((v) => median(idle[v]?.map((r) => r.rssKb) ?? []) / 1024);
  const ghReq = per((v) => median(gh[v]?.map((g) => g.requests) ?? []));
  const ghCounted = per((v) => Math.max(...(gh[v]?.map((g) => g.counted) ?? [])));
  const kubeReq = per((v) => median(kube[v] ?? []));
  const batch = per((v) => median(batches[v] ?? []));
  const overhead = per((v) => median(overheads[v] ?? []));
  const handoff = per((v) => median(handoffs[v] ?? []));
  const versionWall = per((v) => median(versions[v]?.map((r) => r.wallMs) ?? []));
  const versionRss = per((v) => median(versions[v]?.map((r) => r.rssKb) ?? []) / 1024);
  const nodeWall = median(nodeAlone.map((r) => r.wallMs));
  const nodeRss = median(nodeAlone.map((r) => r.rssKb)) / 1024;
  return [
    { figure: "idle tick: wall time, process start to exit (median)", values: per((v) => seconds(idleWall[v] ?? 0)), target: "<= 0.25 s", ok: per((v) => (idleWall[v] ?? 0) <= 250) },
    { figure: `idle tick / floor (kubectl get configmap + one GET of the GitHub endpoint: ${seconds(floorWall)}, ${floorRss.toFixed(1)} MB)`, values: per((v) => ((idleWall[v] ?? 0) / floorWall).toFixed(2)), target: "<= 1.5", ok: per((v) => (idleWall[v] ?? 0) / floorWall <= 1.5) },
    { figure: "idle tick: CPU, user + system (median)", values: per((v) => seconds(idleCpu[v] ?? 0)), target: "" },
    { figure: "idle tick: peak RSS (median)", values: per((v) => `${(rss[v] ?? 0).toFixed(1)} MB`), target: "<= 90 MB", ok: per((v) => (rss[v] ?? 0) <= 90) },
    { figure: "idle tick: GitHub requests / not answered 304", values: per((v) => `${ghReq[v]} / ${ghCounted[v]}`), target: "1 / 0", ok: per((v) => ghReq[v] === 1 && ghCounted[v] === 0) },
    { figure: "idle tick: Kubernetes API requests", values: per((v) => String(kubeReq[v])), target: "<= 2", ok: per((v) => (kubeReq[v] ?? 0) <= 2) },
    { figure: "full sync: runner overhead = wall - build Job - helm upgrade (median)", values: per((v) => `${seconds(overhead[v] ?? 0)} (wall ${((median(fulls[v] ?? [])) / 1000).toFixed(2)} s)`), target: "<= 1.0 s", ok: per((v) => (overhead[v] ?? 0) <= 1000) },
    { figure: "Job Complete seen -> helm upgrade starts (median)", values: per((v) => seconds(handoff[v] ?? 0)), target: "<= 0.2 s", ok: per((v) => (handoff[v] ?? 0) <= 200) },
    { figure: `${TARGETS} targets at once: batch wall, median of ${BATCHES} (failures or conflicts)`, values: per((v) => `${((batch[v] ?? 0) / 1000).toFixed(2)} s (${failures[v]}); CPU floor ${((TARGETS * (idleCpu[v] ?? 0)) / cpus().length / 1000).toFixed(2)} s`), target: "<= 5 s, 0", ok: per((v) => (batch[v] ?? 0) <= 5000 && failures[v] === 0) },
    { figure: "limit: `--version`, start to exit without any network (median)", values: per((v) => `${seconds(versionWall[v] ?? 0)}, ${(versionRss[v] ?? 0).toFixed(1)} MB`), target: "" },
    { figure: `limit: ${TARGETS} \`--version\` at once, no network (median of ${BATCHES})`, values: per((v) => `${((median(startups[v] ?? [])) / 1000).toFixed(2)} s`), target: "" },
    { figure: `limit: ${TARGETS} floors at once (kubectl get + curl; median of ${BATCHES})`, values: per(() => `${(median(floorBatches) / 1000).toFixed(2)} s`), target: "" },
    { figure: "limit: `node -e 0`, Node's own start (same for both)", values: per(() => `${seconds(nodeWall)}, ${nodeRss.toFixed(1)} MB`), target: "" },
  ];
}

async function seedIdleState(world: World, release: string, sha: string): Promise<void> {
  const annotations = {
    "ci-runner.dev/deployed-sha": sha, "ci-runner.dev/deployed-at": new Date().toISOString(),
    "ci-runner.dev/head-sha": sha, "ci-runner.dev/head-etag": `"${sha}"`,
  };
  const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `ci-runner-${release}`, namespace: "cicd", annotations } };
  const response = await api(world.info.server, world.info.adminToken, world.info.caCert, "/api/v1/namespaces/cicd/configmaps", { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`seeding ${release}: HTTP ${response.status}`);
}

function render(rows: Row[], variants: readonly Variant[], info: { helm3: string; helm4: string }): string {
  const version = (bin: string) => execFileSync(bin, ["version", "--template", "{{.Version}}"], { encoding: "utf8" }).trim();
  const header = `# ci-runner benchmark\n\n${new Date().toISOString()} · ${cpus().length} cores · Node ${process.version} · Helm ${version(info.helm4)} (runs) / ${version(info.helm3)} · ${REPS} repetitions${quick ? " (quick)" : ""}\n\n`;
  const mark = (r: Row, v: number) => (r.ok === undefined ? "" : r.ok[v] ? " (met)" : " (**NOT met**)");
  const lines = rows.map((r) => `| ${r.figure} | ${r.values.map((value, v) => `${value}${mark(r, v)}`).join(" | ")} | ${r.target} |`);
  return `${header}| figure | ${variants.map((v) => v.name).join(" | ")} | target |\n|---|${variants.map(() => "---|").join("")}---|\n${lines.join("\n")}\n`;
}

await main();
