import type { Config } from "../config.ts";
import { describePermission, requiredPermissions } from "../permissions.ts";
import type { Runtime } from "../runtime.ts";
import { type Check, failed } from "./doctor.ts";

/** The checks `ci-runner doctor` runs, in the order a user would fix them. */
export function doctorChecks(config: Config, runtime: Runtime): Check[] {
  const { ports, preflight } = runtime;
  const repo = `${config.repo.owner}/${config.repo.name}@${config.branch}`;
  let head: string | undefined;
  return [
    {
      name: "GitHub branch",
      run: async () => {
        try {
          head = (await ports.source.branchHead(undefined)).sha;
          return { ok: true, detail: `${repo} is at ${head.slice(0, 12)}${config.gitToken ? " (token accepted)" : ""}` };
        } catch (error) {
          return failed(error, "check REPO, BRANCH and GIT_TOKEN");
        }
      },
    },
    {
      name: "Registry secret",
      run: async () => {
        try {
          return { ok: true, detail: await (preflight?.registrySecret() ?? Promise.resolve("not checked")) };
        } catch (error) {
          return failed(error, "see manifests/secrets.example.yaml");
        }
      },
    },
    {
      name: "Permissions",
      run: async () => {
        const needed = requiredPermissions(config);
        try {
          const missing = (await preflight?.missingPermissions(needed)) ?? [];
          if (missing.length === 0) return { ok: true, detail: `all ${needed.length} permissions granted` };
          const files = [...new Set(missing.map((p) => p.grantedBy))].join(", ");
          return { ok: false, problem: `missing ${missing.map(describePermission).join("; ")}`, fix: `kubectl apply -k manifests/ (the rules are in ${files})` };
        } catch (error) {
          return failed(error, "check the kubeconfig or ServiceAccount");
        }
      },
    },
    {
      name: "Helm",
      run: async () => {
        try {
          return { ok: true, detail: await (preflight?.helm() ?? Promise.resolve("not checked")) };
        } catch (error) {
          return failed(error, "install Helm 3 or 4 or set HELM_BIN");
        }
      },
    },
    {
      name: "Chart at the head commit",
      run: async () => {
        if (head === undefined) return { ok: false, problem: "the branch head is unknown (see GitHub branch above)", fix: "fix the GitHub check first" };
        try {
          const checkout = await ports.charts.checkout(head);
          await checkout.dispose();
          return { ok: true, detail: `${config.chartPath}/Chart.yaml present at ${head.slice(0, 12)}` };
        } catch (error) {
          return failed(error, "check CHART_PATH and GIT_URL");
        }
      },
    },
    {
      name: "State ConfigMap",
      run: async () => {
        try {
          const { state, resourceVersion, warnings } = await ports.state.read();
          if (resourceVersion === undefined) return { ok: true, detail: `${config.cicdNamespace}/${config.stateConfigMap} does not exist yet; the first run creates it` };
          const deployed = state.deployed ? `deployed ${state.deployed.sha.slice(0, 12)}` : "nothing deployed yet";
          return { ok: true, detail: `${config.cicdNamespace}/${config.stateConfigMap} readable: ${deployed}${warnings.length ? `; ${warnings.length} malformed annotation(s)` : ""}` };
        } catch (error) {
          return failed(error, "grant get on the state ConfigMap (manifests/base/rbac-build.yaml)");
        }
      },
    },
  ];
}
