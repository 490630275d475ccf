// `npm run bench`: the cost of a tick, measured against the local control plane, registry, git
// server and GitHub endpoint of the real-cluster tests. Prints one table of medians and ratios
// (also written to bench/results.md). `--quick` runs 3 repetitions instead of 10 (CI uses it so
// the benchmark cannot rot). Requests are counted by the servers: the API proxy and the git server.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { api } from "../test/e2e/env/control-plane.ts";
import { bootEnvironment, missingHostTools, REPO_ROOT } from "../test/e2e/env/environment.ts";
import { e2eWorld, type World } from "../test/e2e/support/world.ts";

const quick = process.argv.includes("--quick");
const REPS = quick ? 3 : 10;
const TARGETS = 50;

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
  const { info, stop } = await bootEnvironment(join(REPO_ROOT, ".testenv", "bench"));
  const world = await e2eWorld(info);
  try {
    const rows = await measure(world);
    const table = render(rows, info);
    console.log(table);
    writeFileSync(join(REPO_ROOT, "bench", "results.md"), table);
  } finally {
    await world.close();
    await stop();
  }
}

interface Row { figure: string; value: string; target: string; ok: boolean }

async function measure(world: World): Promise<Row[]> {
  const node = process.execPath;
  const bin = join(REPO_ROOT, "bin", "ci-runner.js");
  const app = world.app("bench");
  let sha = app.commit();
  const base = { PATH: process.env.PATH ?? "", HOME: world.home, ...app.env("helm4") };
  const first = await timed(node, [bin, "sync", "--once"], base);
  if (first.code !== 0) throw new Error(`first deploy failed:\n${first.stderr}`);

  // Idle tick, and the floor: one ConfigMap GET with kubectl plus one GET of the GitHub endpoint.
  const idle: Timed[] = [];
  const floor: Timed[] = [];
  const gh: { requests: number; counted: number }[] = [];
  const kube: number[] = [];
  const floorScript = `"${world.info.kubectl}" --kubeconfig "${world.adminKubeconfig}" -n cicd get configmap ci-runner-bench -o name >/dev/null && curl -sf -o /dev/null -H 'If-None-Match: "${sha}"' "${world.git.apiUrl}/repos/acme/bench/commits/main"`;
  for (let i = 0; i < REPS + 1; i++) {
    const before = await world.gitStats();
    const requests = world.proxy.requests.length;
    const run = await timed(node, [bin, "sync", "--once"], base);
    if (run.code !== 0) throw new Error(`idle tick failed:\n${run.stderr}`);
    const after = await world.gitStats();
    if (i === 0) continue; // warm-up: fills the compile cache, as every tick after the first has it
    idle.push(run);
    gh.push({ requests: after.apiRequests - before.apiRequests, counted: after.apiCounted - before.apiCounted });
    kube.push(world.proxy.requests.length - requests);
    floor.push(await timed("sh", ["-c", floorScript], { PATH: process.env.PATH ?? "", HOME: world.home }));
  }

  // Full syncs of new commits: overhead = wall - build Job time - helm upgrade time.
  const spyDir = mkdtempSync(join(world.root, "helm-timing-"));
  const helmLog = join(spyDir, "helm.log");
  const helmWrapper = join(spyDir, "helm");
  writeFileSync(helmWrapper, `#!/bin/sh\necho "start $(date +%s%3N) $1" >> '${helmLog}'\n'${world.info.helm4}' "$@"\nrc=$?\necho "end $(date +%s%3N) $1" >> '${helmLog}'\nexit $rc\n`, { mode: 0o755 });
  const overheads: number[] = [];
  const handoffs: number[] = [];
  const fulls: number[] = [];
  for (let i = 0; i < REPS; i++) {
    sha = app.commit();
    writeFileSync(helmLog, "");
    const run = await timed(node, [bin, "sync", "--once"], { ...base, HELM_BIN: helmWrapper });
    if (run.code !== 0) throw new Error(`full sync failed:\n${run.stderr}`);
    const logs = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; time: string });
    const at = (msg: string) => Date.parse(logs.find((l) => l.msg === msg)?.time ?? "");
    const jobMs = at("Build Job finished") - at("Created build Job");
    const helmLines = readFileSync(helmLog, "utf8").trim().split("\n").map((l) => l.split(" "));
    const upgradeStart = Number(helmLines.find((l) => l[0] === "start" && l[2] === "upgrade")?.[1]);
    const upgradeEnd = Number(helmLines.find((l) => l[0] === "end" && l[2] === "upgrade")?.[1]);
    fulls.push(run.wallMs);
    overheads.push(run.wallMs - jobMs - (upgradeEnd - upgradeStart));
    handoffs.push(upgradeStart - at("Build Job finished"));
  }

  // 50 targets ticking at once: 50 state ConfigMaps already at the head, 50 processes.
  for (let n = 0; n < TARGETS; n++) await seedIdleState(world, `bench-${n}`, sha);
  const batchStart = performance.now();
  const batch = await Promise.all(Array.from({ length: TARGETS }, (_, n) => timed(node, [bin, "sync", "--once"], { ...base, RELEASE: `bench-${n}`, DEPLOY_NS: `bench-${n}` })));
  const batchMs = performance.now() - batchStart;
  const failures = batch.filter((r) => r.code !== 0 || /"level":"(warn|error)"/.test(r.stderr)).length;
  const idleCpu = median(idle.map((r) => r.cpuMs));

  const idleWall = median(idle.map((r) => r.wallMs));
  const floorWall = median(floor.map((r) => r.wallMs));
  const rss = median(idle.map((r) => r.rssKb)) / 1024;
  const ghReq = median(gh.map((g) => g.requests));
  const ghCounted = Math.max(...gh.map((g) => g.counted));
  const kubeReq = median(kube);
  return [
    { figure: "idle tick: wall time, process start to exit (median)", value: `${(idleWall / 1000).toFixed(3)} s`, target: "<= 0.25 s", ok: idleWall <= 250 },
    { figure: "idle tick / floor (kubectl get configmap + one GET of the GitHub endpoint)", value: `${(idleWall / floorWall).toFixed(2)} (floor ${(floorWall / 1000).toFixed(3)} s)`, target: "<= 1.5", ok: idleWall / floorWall <= 1.5 },
    { figure: "idle tick: peak RSS (median)", value: `${rss.toFixed(1)} MB`, target: "<= 90 MB", ok: rss <= 90 },
    { figure: "idle tick: GitHub requests / not answered 304", value: `${ghReq} / ${ghCounted}`, target: "1 / 0", ok: ghReq === 1 && ghCounted === 0 },
    { figure: "idle tick: Kubernetes API requests", value: String(kubeReq), target: "<= 2", ok: kubeReq <= 2 },
    { figure: "full sync: runner overhead = wall - build Job - helm upgrade (median)", value: `${(median(overheads) / 1000).toFixed(3)} s (wall ${(median(fulls) / 1000).toFixed(2)} s)`, target: "<= 1.0 s", ok: median(overheads) <= 1000 },
    { figure: "Job Complete seen -> helm upgrade starts (median)", value: `${(median(handoffs) / 1000).toFixed(3)} s`, target: "<= 0.2 s", ok: median(handoffs) <= 200 },
    { figure: `${TARGETS} targets at once: batch wall (failures or conflicts)`, value: `${(batchMs / 1000).toFixed(2)} s (${failures}); CPU floor ${((TARGETS * idleCpu) / 2 / 1000).toFixed(2)} s`, target: "<= 5 s, 0", ok: batchMs <= 5000 && failures === 0 },
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

function render(rows: Row[], info: { helm3: string; helm4: string }): string {
  const version = (bin: string) => execFileSync(bin, ["version", "--template", "{{.Version}}"], { encoding: "utf8" }).trim();
  const header = `# ci-runner benchmark\n\n${new Date().toISOString()} · ${cpus().length} cores · Node ${process.version} · Helm ${version(info.helm4)} (runs) / ${version(info.helm3)} · ${REPS} repetitions${quick ? " (quick)" : ""}\n\n`;
  const lines = rows.map((r) => `| ${r.figure} | ${r.value} | ${r.target} | ${r.ok ? "met" : "NOT met"} |`);
  return `${header}| figure | measured | target | |\n|---|---|---|---|\n${lines.join("\n")}\n`;
}

await main();
