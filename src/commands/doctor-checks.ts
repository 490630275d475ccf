import type { Config } from "../config/load.ts";
import { describePermission, requiredPermissions } from "../permissions.ts";
import type { Runtime } from "../wiring/runtime.ts";
import type { Check, CheckResult } from "./doctor.ts";

/** The checks `ci-runner doctor` runs, in the order a user would fix them. */
export function doctorChecks(config: Config, runtime: Runtime): Check[] {
  const { ports, preflight } = runtime;
  const repo = `${config.repo.owner}/${config.repo.name}@${config.branch}`;
  let head: string | undefined;
  let helmRuns = false;
  // A check of the head commit can only run once the GitHub check found it.
  const atHead = (run: (sha: string) => Promise<CheckResult>) => async (): Promise<CheckResult> =>
    head === undefined ? { ok: false, problem: "the branch head is unknown (see GitHub branch above)", fix: "fix the GitHub check first" } : run(head);
  return [
    {
      name: "GitHub branch",
      fix: "check REPO, BRANCH and GIT_TOKEN",
      run: async () => {
        head = (await ports.source.branchHead(undefined)).sha;
        return { ok: true, detail: `${repo} is at ${head.slice(0, 12)}${config.gitToken ? " (token accepted)" : ""}` };
      },
    },
    {
      name: "Build namespace",
      fix: "create CICD_NS (kubectl apply -k manifests/) or set CICD_NS",
      run: async () => ({ ok: true, detail: await preflight.buildNamespace() }),
    },
    {
      name: "Registry secret",
      fix: "see manifests/secrets.example.yaml",
      run: async () => ({ ok: true, detail: await preflight.registrySecret() }),
    },
    {
      name: "Permissions",
      fix: "check the kubeconfig or ServiceAccount",
      run: async () => {
        const needed = requiredPermissions(config);
        const missing = await preflight.missingPermissions(needed);
        if (missing.length === 0) return { ok: true, detail: `all ${needed.length} permissions granted` };
        const files = [...new Set(missing.map((p) => p.grantedBy))].join(", ");
        return { ok: false, problem: `missing ${missing.map(describePermission).join("; ")}`, fix: `run the same \`ci-runner install\` again, or kubectl apply -k manifests/ (the rules are in ${files})` };
      },
    },
    {
      name: "Deploy identity",
      fix: "run the same `ci-runner install` again, or apply manifests/base/rbac-deploy.yaml for DEPLOY_NS: the ServiceAccount helm acts as, its Role, and our right to impersonate it",
      run: async () => ({ ok: true, detail: await preflight.deployIdentity() }),
    },
    {
      name: "Build Job admitted",
      fix: "list KANIKO_IMAGE, REGISTRY_SECRET and GIT_TOKEN_SECRET in ConfigMap cicd/ci-runner-build-policy (manifests/base/build-policy.yaml)",
      run: atHead(async (sha) => ({ ok: true, detail: await preflight.buildAdmitted(sha) })),
    },
    {
      name: "Helm",
      fix: "install Helm 3 or 4 or set HELM_BIN",
      run: async () => {
        const detail = await preflight.helm();
        helmRuns = true;
        return { ok: true, detail };
      },
    },
    {
      name: "Chart at the head commit",
      fix: "check CHART_PATH, GIT_URL and VALUES_FILES; for a kind the deploy identity lacks, run the same `ci-runner install` again",
      run: atHead(async (sha) =>
        helmRuns ? { ok: true, detail: await preflight.chart(sha) } : { ok: false, problem: "helm does not run (see Helm above)", fix: "fix the Helm check first" },
      ),
    },
    {
      name: "State ConfigMap",
      fix: "grant get on the state ConfigMap (manifests/base/rbac-build.yaml)",
      run: async () => {
        const { state, resourceVersion, warnings } = await ports.state.read();
        const where = `${config.cicdNamespace}/${config.stateConfigMap}`;
        if (resourceVersion === undefined) return { ok: true, detail: `${where} does not exist yet; the first run creates it` };
        const deployed = state.deployed ? `deployed ${state.deployed.sha.slice(0, 12)}` : "nothing deployed yet";
        return { ok: true, detail: `${where} readable: ${deployed}${warnings.length ? `; ${warnings.length} malformed annotation(s)` : ""}` };
      },
    },
  ];
}
