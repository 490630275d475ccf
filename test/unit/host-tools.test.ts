import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = new URL("../../scripts/host-tools.sh", import.meta.url).pathname;
/** What the real-node tests need, besides what the control-plane tests always needed. */
const REAL_NODE = ["containerd", "runc", "containernetworking-plugins", "buildah", "skopeo", "busybox-static", "iptables", "iproute2"];

/**
 * Runs the script on a PATH of stubs only: dpkg-query reports every package installed except
 * `missing`, whose probes are not on that PATH either; apt-get and sudo record what they are asked.
 */
function hostTools(options: { missing: string[]; uid: number; sudo: boolean; args?: string[] }) {
  const bin = mkdtempSync(join(tmpdir(), "host-tools-"));
  const calls = join(bin, "calls.log");
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const tool of ["dirname", "awk", "cat"]) symlinkSync(spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), join(bin, tool));
  stub("dpkg-query", `case " ${options.missing.join(" ")} " in *" \${@: -1} "*) exit 1;; esac; printf installed`);
  stub("id", `echo ${options.uid}`);
  stub("sudo", `echo "sudo $*" >> ${calls}; [ "$1" = -n ] && [ "$2" = true ] && exit ${options.sudo ? 0 : 1}; shift; "$@"`);
  stub("apt-get", `echo "apt-get $*" >> ${calls}`);
  stub("go", `[ "$1" = list ] && exit 0; echo go1.26.8`);
  const result = spawnSync("/bin/bash", [SCRIPT, ...(options.args ?? [])], { encoding: "utf8", env: { PATH: bin } });
  let log = "";
  try { log = readFileSync(calls, "utf8"); } catch { /* nothing was called */ }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, calls: log.trim().split("\n").filter(Boolean) };
}

describe("scripts/host-tools.sh", () => {
  it("installs what is missing as root, saying what, including the real node's packages", () => {
    const result = hostTools({ missing: ["apache2-utils", ...REAL_NODE], uid: 0, sudo: false });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`host-tools: installing with apt-get: apache2-utils ${REAL_NODE.join(" ")}`);
    expect(result.calls).toEqual(["apt-get update -qq", `apt-get install -y -qq --no-install-recommends apache2-utils ${REAL_NODE.join(" ")}`]);
  });

  it("uses sudo when it needs no password", () => {
    const result = hostTools({ missing: ["buildah"], uid: 1000, sudo: true });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual(["sudo -n true", "sudo -n apt-get update -qq", "apt-get update -qq", "sudo -n apt-get install -y -qq --no-install-recommends buildah", "apt-get install -y -qq --no-install-recommends buildah"]);
  });

  it("otherwise stops with the one command that installs them, and installs nothing", () => {
    const result = hostTools({ missing: ["docker-registry", "skopeo"], uid: 1000, sudo: false });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("host-tools: missing Debian packages: docker-registry skopeo\nhost-tools: install them with:  sudo bash scripts/host-tools.sh\n");
    expect(result.calls).toEqual(["sudo -n true"]);
  });

  it("--check only reports; nothing missing means nothing installed", () => {
    expect(hostTools({ missing: ["runc"], uid: 0, sudo: false, args: ["--check"] })).toMatchObject({ code: 1, calls: [] });
    const ready = hostTools({ missing: [], uid: 1000, sudo: false });
    expect(ready).toMatchObject({ code: 0, calls: [] });
    expect(ready.stdout).toMatch(/all Debian packages present; go1\.26\.8 \(go\.mod asks for >= 1\.26\.0\)/);
  });
});
