// Bundles src/ and its runtime dependencies, so a run loads one file instead of thousands of
// modules. Run by `npm ci` (prepare) and `npm run build`. Two outputs:
//   dist/ci-runner.mjs           ESM, run by bin/ci-runner.js (development, tests, `npx ci-runner`)
//   dist/ci-runner-snapshot.cjs  CommonJS without top-level await: the entry of the image's V8
//                                startup snapshot (src/snapshot.ts; the Dockerfile builds the blob).
//                                A snapshot cannot hold node:http's parser handles, so our HTTP client
//                                (src/adapters/http/transport.ts) loads node:http(s) on first use; a
//                                module that imported it eagerly would fail the snapshot build loudly.
import { readdirSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
// `ci-runner install` starts from manifests/base (src/install/templates.ts): the bundle carries it.
const base = new URL("../manifests/base/", import.meta.url);
const manifests = Object.fromEntries(readdirSync(base).filter((f) => f.endsWith(".yaml")).map((f) => [f, readFileSync(new URL(f, base), "utf8")]));

const common = {
  bundle: true,
  platform: "node",
  target: "node24",
  // Smaller to parse; names kept so logged error types (`err.type`) and stack traces stay readable.
  minify: true,
  keepNames: true,
  sourcemap: "linked",
  legalComments: "linked",
  define: { CI_RUNNER_VERSION: JSON.stringify(pkg.version), CI_RUNNER_MANIFESTS: JSON.stringify(manifests) },
  logLevel: "warning",
};

await Promise.all([
  build({
    ...common,
    entryPoints: ["src/main.ts"],
    outfile: "dist/ci-runner.mjs",
    format: "esm",
    // Some dependencies still call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __ciRunnerRequire } from 'node:module'; const require = __ciRunnerRequire(import.meta.url);" },
  }),
  build({
    ...common,
    entryPoints: ["src/snapshot.ts"],
    outfile: "dist/ci-runner-snapshot.cjs",
    format: "cjs",
    // Only src/install/templates.ts asks, and only outside a bundle (the bundle embeds manifests/base).
    define: { ...common.define, "import.meta.url": JSON.stringify("file:///ci-runner-snapshot.cjs") },
  }),
]);
