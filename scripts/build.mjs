// Bundles src/main.ts and its runtime dependencies into dist/ci-runner.mjs, so a tick loads one
// file instead of thousands of modules. Run by `npm ci` (prepare) and `npm run build`.
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/ci-runner.mjs",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  // Smaller to parse, names kept so stack traces of internal errors stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: "linked",
  legalComments: "linked",
  define: { CI_RUNNER_VERSION: JSON.stringify(pkg.version) },
  // Some dependencies still call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __ciRunnerRequire } from 'node:module'; const require = __ciRunnerRequire(import.meta.url);" },
  logLevel: "warning",
});
