// `npm run demo`: a newcomer's first command. Builds what is missing, starts a real local control
// plane, registry and git server, creates a sample app repository, runs `ci-runner sync --once`
// and `ci-runner status` against it, and says how to clean up. Runs on Node 24 (type stripping).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { bootEnvironment, missingHostTools, REPO_ROOT } from "../test/e2e/env/environment.ts";
import { stopAll } from "../test/e2e/env/processes.ts";
import { CONTROL_PLANE } from "../test/e2e/env/control-plane.ts";
import { e2eWorld } from "../test/e2e/support/world.ts";

const DIR = join(REPO_ROOT, ".testenv", "demo");

if (process.argv[2] === "down") {
  await stopAll(DIR, ["registry"]);
  await stopAll(join(DIR, "cluster"), [...CONTROL_PLANE].reverse());
  console.log(`Stopped the demo environment (processes in ${DIR}).`);
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

await stopAll(DIR, ["registry"]);
await stopAll(join(DIR, "cluster"), [...CONTROL_PLANE].reverse());
console.log("Building the bundle and the control plane (the first build of Kubernetes takes a while)...");
spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
const { info } = await bootEnvironment(DIR);
console.log(`Local control plane, registry and tools up in ${info.bootSeconds.toFixed(1)}s: ${info.server}\n`);

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
await world.close();

console.log(`What happened: ci-runner read the head of acme/demo from the local GitHub endpoint, created a
Kaniko build Job that the real API server accepted (kwok, the simulated kubelet, completed it),
and deployed the chart at that commit with Helm 4 into namespace "demo", image tag = the SHA.

The control plane and registry are still running. Look around with:
  ${info.kubectl} --kubeconfig ${info.kubeconfig} get all -n demo
Clean up with:
  npm run demo:down`);
