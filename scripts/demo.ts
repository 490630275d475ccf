// `npm run demo`: a newcomer's first command. Sets up the host, starts a local cluster, creates a
// sample app repository, runs `ci-runner sync --once` and `ci-runner status` against it, and says
// how to clean up. Where the machine allows it (Linux, root, the Debian packages) the cluster has
// a real node: Kaniko really builds the image and the app really runs. Elsewhere it falls back to
// the simulated node and says plainly that nothing was built. Runs on Node 24 (type stripping).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CONTROL_PLANE } from "../test/e2e/env/control-plane.ts";
import { bootEnvironment, type EnvironmentInfo, missingHostTools, REPO_ROOT } from "../test/e2e/env/environment.ts";
import { stopAll } from "../test/e2e/env/processes.ts";
import { bootRealNode, missingRealNodePrerequisites, tearDownRealNode } from "../test/e2e/env/real-node.ts";
import { annotations, pagesServed, registryDigest } from "../test/e2e/support/real-checks.ts";
import { e2eWorld } from "../test/e2e/support/world.ts";

const SIMULATED = join(REPO_ROOT, ".testenv", "demo");
const REAL = join(REPO_ROOT, ".testenv", "demo-real");

async function down(): Promise<void> {
  await tearDownRealNode(REAL);
  await stopAll(SIMULATED, ["registry"]);
  await stopAll(join(SIMULATED, "cluster"), [...CONTROL_PLANE].reverse());
}

if (process.argv[2] === "down") {
  await down();
  console.log("Stopped the demo environment; the real node's bridge, rules and mounts are gone too.");
  process.exit(0);
}

// Set-up first, so that `npm ci && npm run demo` is all a fresh machine needs: the script installs
// the missing Debian packages when it may (root, or sudo without a password) and says which, or
// stops with the one command that does; it also checks Go against the version go.mod names.
const setup = spawnSync("bash", [join(REPO_ROOT, "scripts", "host-tools.sh")], { stdio: "inherit" });
if (setup.status !== 0) process.exit(2);
const missing = missingHostTools();
if (missing.length > 0) {
  console.error(`demo: still missing ${missing.join(", ")} after scripts/host-tools.sh; put them on PATH`);
  process.exit(2);
}

await down();
console.log("Building the bundle and the cluster's binaries (the first build of Kubernetes takes a while)...");
spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
const { info, real } = await bootCluster();
console.log(`Local cluster up in ${info.bootSeconds.toFixed(1)}s: ${info.server}\n`);

const world = await e2eWorld(info);
const app = world.app("demo");
const sha = app.commit();
console.log(`Created repository acme/demo with a Dockerfile and a Helm chart; head is ${sha.slice(0, 12)}.\n`);
const env = { ...app.env("helm4"), LOG_FORMAT: "pretty" };

for (const args of [["sync", "--once"], ["status"]]) {
  console.log(`$ ci-runner ${args.join(" ")}`);
  const result = await world.run(args, env);
  process.stdout.write(result.stdout);
  process.stdout.write(result.stderr);
  console.log(`(exit code ${result.code})\n`);
}

if (real) {
  const recorded = (await annotations(world, app.release))["ci-runner.dev/deployed-digest"];
  const inRegistry = await registryDigest(world, app.image, sha);
  const pages = await pagesServed(world, app.namespace, app.release).catch(() => []);
  console.log(`What happened, for real: Kaniko cloned acme/demo at ${sha.slice(0, 12)} in a build pod, built the image
and pushed it; the registry has ${app.image}:${sha.slice(0, 12)}… with digest ${inRegistry ?? "(none)"}
(${inRegistry !== null && inRegistry === recorded ? "the digest ci-runner recorded" : `ci-runner recorded ${recorded ?? "nothing"}`}). Helm 4 deployed the chart at that commit; the running pod
answers: ${pages.length > 0 ? pages.map((p) => JSON.stringify(p)).join(", ") : "(no Ready pod)"}.`);
} else {
  console.log(`What happened, simulated: ci-runner read the head of acme/demo, created a Kaniko build Job that the
real API server accepted, and deployed the chart with Helm 4. NOTHING WAS BUILT and no container
ran: this machine has no real node (see above), so the simulated kubelet (kwok) completed the Job
with a made-up digest and marked the app's pods Ready.`);
}
await world.close();
console.log(`
The cluster and registry are still running. Look around with:
  ${info.kubectl} --kubeconfig ${info.kubeconfig} get all -n demo
Clean up with:
  npm run demo:down`);

async function bootCluster(): Promise<{ info: EnvironmentInfo; real: boolean }> {
  const lacking = missingRealNodePrerequisites();
  if (lacking.length === 0) {
    try {
      return { info: (await bootRealNode(REAL)).info, real: true };
    } catch (error) {
      console.log(`demo: the real node did not start (${(error as Error).message.split("\n")[0]}); falling back to the simulated node.`);
    }
  } else {
    console.log(`demo: no real node on this machine (missing ${lacking.join(", ")}); using the simulated node: nothing will be built.`);
  }
  return { info: (await bootEnvironment(SIMULATED)).info, real: false };
}
