#!/usr/bin/env node
// Runs the bundle built by `npm ci` / `npm run build` (scripts/build.mjs). No logic here.
import module from "node:module";

// V8's compile cache (Node >= 22) saves re-compiling the bundle on every tick: about a third of
// start-up time and memory. NODE_COMPILE_CACHE picks the folder (the image bakes one in).
module.enableCompileCache?.();
await import("../dist/ci-runner.mjs");
