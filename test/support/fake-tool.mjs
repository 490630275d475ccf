#!/usr/bin/env node
// A strict stand-in for a command-line tool (helm) in adapter tests. HELM_FAKE_SCRIPT names a JSON
// file: a list of { argv, stdout, stderr, exit } answered in order. A call whose argv differs
// from the next entry, or a call past the end, is recorded as a problem and exits 99.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const script = process.env.HELM_FAKE_SCRIPT;
const state = `${script}.cursor`;
const log = `${script}.calls`;
const steps = JSON.parse(readFileSync(script, "utf8"));
const cursor = existsSync(state) ? Number(readFileSync(state, "utf8")) : 0;
const argv = process.argv.slice(2);
const step = steps[cursor];
const matches = step && JSON.stringify(step.argv) === JSON.stringify(argv);
if (matches && step.untilTerm) {
  // Like helm waiting for pods: runs until SIGTERM, then reports and exits as helm does. The handler
  // is in place before the call is recorded, so a test that signals once it sees the call never
  // meets the default action (death without the record).
  setInterval(() => undefined, 1000);
  process.on("SIGTERM", () => {
    appendFileSync(log, `${JSON.stringify({ argv: ["<SIGTERM>"], envKeys: [] })}\n`);
    process.stderr.write(step.stderr ?? "");
    process.exit(step.exit ?? 1);
  });
}
appendFileSync(log, `${JSON.stringify({ argv, envKeys: Object.keys(process.env).sort() })}\n`);
writeFileSync(state, String(cursor + 1));
if (!matches) {
  appendFileSync(`${script}.problems`, `unexpected call ${JSON.stringify(argv)}; expected ${JSON.stringify(step?.argv ?? "nothing")}\n`);
  process.exit(99);
}
process.stdout.write(step.stdout ?? "");
if (!step.untilTerm) {
  // afterMs: like helm reaching its own timeout, then failing.
  setTimeout(() => {
    process.stderr.write(step.stderr ?? "");
    process.exit(step.exit ?? 0);
  }, step.afterMs ?? 0);
}
