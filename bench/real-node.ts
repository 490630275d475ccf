// The real-node part of `npm run bench`: from a new commit to Ready pods that answer with it, on
// a real kubelet with the real Kaniko, split into the build Job, helm, and the runner's own
// overhead (everything else: start, GitHub, state writes, the chart checkout, the hand-offs).
import { join } from "node:path";
import { REPO_ROOT } from "../test/e2e/env/environment.ts";
import { bootRealNode, missingRealNodePrerequisites } from "../test/e2e/env/real-node.ts";
import { pagesServed } from "../test/e2e/support/real-checks.ts";
import { e2eWorld } from "../test/e2e/support/world.ts";

export interface RealNodeFigures {
  readonly runs: number;
  readonly totalMs: number;
  readonly buildMs: number;
  readonly helmMs: number;
  readonly overheadMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

/** Undefined, with the reason printed, where this machine cannot run a real node. */
export async function measureRealNode(runs: number): Promise<RealNodeFigures | undefined> {
  const missing = missingRealNodePrerequisites();
  if (missing.length > 0) {
    console.warn(`bench: no real-node figures here (missing ${missing.join(", ")})`);
    return undefined;
  }
  const { info, stop } = await bootRealNode(join(REPO_ROOT, ".testenv", "run", `bench-real-${process.pid}`));
  const world = await e2eWorld(info);
  try {
    const app = world.app("bench-real");
    const totals: number[] = [];
    const builds: number[] = [];
    const helms: number[] = [];
    // The first commit pulls the base and Kaniko images onto the node: not what a tick costs.
    for (let i = 0; i <= runs; i++) {
      const sha = app.commit();
      const started = performance.now();
      const run = await world.run(["sync", "--once"], app.env("helm4"));
      const total = performance.now() - started;
      if (run.code !== 0) throw new Error(`real-node sync failed:\n${run.stderr}`);
      const pages = await pagesServed(world, app.namespace, app.release);
      if (pages.join() !== sha) throw new Error(`the pod answers ${JSON.stringify(pages)}, not ${sha}`);
      if (i === 0) continue;
      const at = (msg: string) => Date.parse(String(run.logs.find((l) => l.msg === msg)?.time));
      totals.push(total);
      builds.push(at("Build Job finished") - at("Created build Job"));
      helms.push(at("Deployed release and recorded it") - at("Deploying release"));
    }
    const overheads = totals.map((t, i) => t - (builds[i] ?? 0) - (helms[i] ?? 0));
    return { runs, totalMs: median(totals), buildMs: median(builds), helmMs: median(helms), overheadMs: median(overheads) };
  } finally {
    await world.close();
    await stop();
  }
}

export function renderRealNode(f: RealNodeFigures | undefined): string {
  if (f === undefined) return "\n## Real node\n\nNot measured: this machine cannot run a real node (Linux, root and the Debian packages of scripts/host-tools.sh).\n";
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return `
## Real node: commit to Ready pods that answer with it (bundle, Helm 4, median of ${f.runs})

| figure | measured | target |
|---|---|---|
| new commit -> pods Ready and answering (whole \`sync --once\`) | ${s(f.totalMs)} | |
| build Job (Kaniko, small Dockerfile) | ${s(f.buildMs)} | |
| helm upgrade until Ready | ${s(f.helmMs)} | |
| runner overhead = whole - build Job - helm | ${s(f.overheadMs)}${f.overheadMs <= 1000 ? " (met)" : " (**NOT met**)"} | <= 1.0 s |
`;
}
