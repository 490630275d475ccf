import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const DEMO = new URL("../../scripts/demo.ts", import.meta.url).pathname;

/** `npm run demo` on a PATH of stubs: a Debian machine where apache2-utils is not installed. */
function demo(uid: number) {
  const bin = mkdtempSync(join(tmpdir(), "demo-setup-"));
  const calls = join(bin, "calls.log");
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const tool of ["bash", "sh", "dirname", "awk", "cat"]) symlinkSync(spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), join(bin, tool));
  stub("dpkg-query", `[ "\${@: -1}" = apache2-utils ] && exit 1; printf installed`);
  stub("id", `echo ${uid}`);
  stub("apt-get", `echo "apt-get $*" >> ${calls}`);
  const result = spawnSync(process.execPath, [DEMO], { encoding: "utf8", env: { PATH: bin }, timeout: 30_000 });
  let log = "";
  try { log = readFileSync(calls, "utf8"); } catch { /* apt-get was not called */ }
  return { code: result.status, stderr: result.stderr, stdout: result.stdout, calls: log.trim().split("\n").filter(Boolean) };
}

describe("npm run demo sets the machine up first", () => {
  it("installs the missing packages itself when it may, saying what", () => {
    const result = demo(0);
    expect(result.stdout).toContain("host-tools: installing with apt-get: apache2-utils");
    expect(result.calls).toEqual(["apt-get update -qq", "apt-get install -y -qq --no-install-recommends apache2-utils"]);
    expect(result.code).toBe(2); // this stub machine has no Go: the script says so, and the demo stops there
    expect(result.stderr).toMatch(/Go >= \S+ is needed/);
  });

  it("else stops with the one command that installs them", () => {
    const result = demo(1000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("install them with:  sudo bash scripts/host-tools.sh");
    expect(result.calls).toEqual([]);
  });
});
