// Bundles src/ and its runtime dependencies, so a run loads one file instead of thousands of
// modules. Run by `npm ci` (prepare) and `npm run build`. Two outputs:
//   dist/ci-runner.mjs           ESM, run by bin/ci-runner.js (development, tests, `npx ci-runner`)
//   dist/ci-runner-snapshot.cjs  CommonJS without top-level await: the entry of the image's V8
//                                startup snapshot (src/snapshot.ts; the Dockerfile builds the blob)
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

const common = {
  bundle: true,
  platform: "node",
  target: "node24",
  // Smaller to parse; names kept so logged error types (`err.type`) and stack traces stay readable.
  minify: true,
  keepNames: true,
  sourcemap: "linked",
  legalComments: "linked",
  define: { CI_RUNNER_VERSION: JSON.stringify(pkg.version) },
  logLevel: "warning",
};

/**
 * A snapshot cannot hold node:http's parser handles ("global handle not serialized: HTTPParser"),
 * so in the snapshot bundle our own modules' imports of node:http(s) load it on first use (the
 * idle tick's state read, src/adapters/kube-lite.ts). Only `request` and `get` are offered: any
 * other import fails this build, not the image's. Dependencies are left alone: the ones that
 * import node:http are behind the lazy full runtime, and one loaded eagerly fails the snapshot
 * build loudly.
 */
const lazyHttp = {
  name: "lazy-http",
  setup(b) {
    b.onResolve({ filter: /^(node:)?https?$/ }, (args) => (!args.importer.includes("/src/") || args.importer.includes("/node_modules/") ? undefined : { path: args.path.replace(/^node:/, ""), namespace: "lazy-http" }));
    b.onLoad({ filter: /.*/, namespace: "lazy-http" }, (args) => ({
      contents: `const m = () => process.getBuiltinModule("node:${args.path}");
export function request(...a) { return m().request(...a); }
export function get(...a) { return m().get(...a); }
export default { request, get };`,
      loader: "js",
    }));
  },
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
    plugins: [lazyHttp],
  }),
]);
