#!/usr/bin/env node
// Runs the bundle built by `npm ci` / `npm run build` (scripts/build.mjs). No logic here.
import "../dist/ci-runner.mjs";
