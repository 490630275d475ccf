import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strictServer } from "../support/strict-http.ts";
import { buildah, type BuiltImage, buildProjectImage, ensureBaseImages, hostSideEffects, IMAGE_STORAGE, imageConfig, missingImageTools, REPO_ROOT, type RunResult, runImage,
} from "../support/project-image.ts";

/**
 * The image, built from the project's own Dockerfile with buildah and run the way the CronJob's
 * pod runs it (its ENTRYPOINT, uid from the image, read-only root, tmpfs /tmp), behaves like the
 * bundle that development and the other tests run: same help, version, configuration error and
 * exit code, same idle tick against the same stubs. And it runs from its startup snapshot, as Node
 * itself reports. Without root or buildah the suite is skipped loudly; with CI=true that fails.
 */
const missing = missingImageTools();
const ci = process.env.CI === "true";
if (missing && !ci) console.warn(`\n*** SKIPPING the image tests: ${missing} ***\n`);

const storage = { dir: IMAGE_STORAGE };
const TAG = `localhost/ci-runner:test-${process.pid}`;
const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

function bundle(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "bin", "ci-runner.js"), ...args], { env: { PATH: process.env.PATH ?? "", HOME: "/tmp", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => { stdout += c.toString("utf8"); });
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A log line without what differs between two runs (time, host, pid). */
function logLines(stderr: string): unknown[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => {
    const { time: _time, hostname: _hostname, pid: _pid, holder: _holder, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

describe.skipIf(missing !== undefined && !ci)("the image built from the Dockerfile", () => {
  let built: BuiltImage;
  let restoreHost: () => void = () => {};

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true and ${missing}`);
    const host = hostSideEffects();
    restoreHost = host.restore;
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
    const started = performance.now();
    const base = ensureBaseImages(storage);
    const baseSeconds = (performance.now() - started) / 1000;
    built = await buildProjectImage(storage, base, TAG);
    console.log(`image ${TAG}: base images ready in ${baseSeconds.toFixed(1)} s (cached under .testenv/image when their inputs are unchanged); Dockerfile built in ${built.seconds.toFixed(1)} s, every stage from scratch; ${built.size}`);
  }, 900_000);

  afterAll(() => {
    try {
      if (built) buildah(storage, ["rmi", "-f", TAG]);
    } finally {
      restoreHost();
    }
  });

  it("runs as uid 10001 from the snapshot entrypoint, with sync --once as its command", () => {
    const config = imageConfig(storage, TAG);
    expect(config.User).toBe("10001:10001");
    expect(config.Entrypoint).toEqual(["node", "--snapshot-blob", "/app/ci-runner.blob", "--"]);
    expect(config.Cmd).toEqual(["sync", "--once"]);
  });

  it("prints the same help and version as the bundle", async () => {
    for (const args of [["--help"], ["--version"], ["sync", "--help"], ["help", "settings"]]) {
      const [image, dev] = await Promise.all([runImage(storage, TAG, args), bundle(args)]);
      expect({ args, code: image.code, stdout: image.stdout, stderr: image.stderr }).toEqual({ args, code: dev.code, stdout: dev.stdout, stderr: dev.stderr });
      expect(image.code).toBe(0);
    }
  });

  it("reports a configuration error like the bundle, with exit code 2 (its CMD, no settings)", async () => {
    const [image, dev] = await Promise.all([runImage(storage, TAG, []), bundle(["sync", "--once"])]);
    expect(image.code).toBe(2);
    expect(image.stderr).toMatch(/^ci-runner: 4 configuration problems:\n {2}- REPO \(or --repo\) is required/);
    expect({ code: image.code, stdout: image.stdout, stderr: image.stderr }).toEqual({ code: dev.code, stdout: dev.stdout, stderr: dev.stderr });
  });

  /**
   * An idle tick of the image and of the bundle against the same strict stubs: a Kubernetes API
   * that answers the state ConfigMap (`kubeReplies` in order, one request each), a GitHub that
   * answers the conditional request 304. Returns both runs.
   */
  async function idleTick(kubeReplies: readonly number[]): Promise<{ image: RunResult; dev: RunResult }> {
    const github = await strictServer();
    const kube = await strictServer();
    const dir = mkdtempSync(join(storage.dir, "idle-"));
    try {
      chmodSync(dir, 0o755);
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(kubeconfig, JSON.stringify({
        apiVersion: "v1", "current-context": "stub",
        // The full client refuses plain HTTP unless told TLS is not checked; the stub has no TLS.
        clusters: [{ name: "stub", cluster: { server: kube.url, "insecure-skip-tls-verify": true } }],
        users: [{ name: "stub", user: { token: "stub-token-0123456789" } }],
        contexts: [{ name: "stub", context: { cluster: "stub", user: "stub" } }],
      }), { mode: 0o644 });
      const settings = { REPO: "acme/shop", IMAGE: "registry.invalid/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GITHUB_API_URL: github.url, LOG_FORMAT: "json" };
      const annotations = { "ci-runner.dev/deployed-sha": SHA, "ci-runner.dev/deployed-at": "2026-11-22T00:00:00.000Z", "ci-runner.dev/head-sha": SHA, "ci-runner.dev/head-etag": `"${SHA}"` };
      const expectTick = () => {
        for (const status of kubeReplies) {
          kube.expect({
            method: "GET", path: "/api/v1/namespaces/cicd/configmaps/ci-runner-shop",
            check: (r) => expect(r.headers.authorization).toBe("Bearer stub-token-0123456789"),
            reply: status === 200
              ? { status, body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ci-runner-shop", namespace: "cicd", resourceVersion: "7", annotations } } }
              : { status, body: { kind: "Status", apiVersion: "v1", status: "Failure", code: status } },
          });
        }
        github.expect({ method: "GET", path: "/repos/acme/shop/commits/main", check: (r) => expect(r.headers["if-none-match"]).toBe(`"${SHA}"`), reply: { status: 304, headers: { etag: `"${SHA}"` } } });
      };

      expectTick();
      const dev = await bundle(["sync", "--once"], { ...settings, KUBECONFIG: kubeconfig });
      github.verify();
      kube.verify();
      expectTick();
      const image = await runImage(storage, TAG, ["sync", "--once"], { env: { ...settings, KUBECONFIG: "/config/kubeconfig" }, mounts: { [dir]: "/config" } });
      github.verify();
      kube.verify();
      return { image, dev };
    } finally {
      await Promise.all([github.close(), kube.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("runs an idle tick like the bundle: one ConfigMap read, one conditional GitHub request answered 304, exit 0", async () => {
    const { image, dev } = await idleTick([200]);
    expect(image.code).toBe(0);
    expect(dev.code).toBe(0);
    expect(logLines(image.stderr)).toEqual(logLines(dev.stderr));
    expect(logLines(image.stderr).length).toBeGreaterThan(0);
    expect(image.stdout).toBe(dev.stdout);
  });

  it("loads the full Kubernetes client from the snapshot when the light state read gives up (as on any non-idle tick)", async () => {
    // A 500 sends the read to the Kubernetes client (src/wiring/cluster.ts), in the snapshot but not
    // run while it was built: this proves the lazy part of the bundle works from the image.
    const { image, dev } = await idleTick([500, 200]);
    expect(image.code).toBe(0);
    expect(dev.code).toBe(0);
    expect(logLines(image.stderr)).toEqual(logLines(dev.stderr));
  });

  it("starts from its startup snapshot, as Node reports it", async () => {
    const traced = await runImage(storage, TAG, ["--version"], { env: { NODE_DEBUG_NATIVE: "SNAPSHOT_SERDES" } });
    expect(traced.code).toBe(0);
    expect(traced.stdout).toBe(`${VERSION}\n`);
    // Node's own account of the blob it read: a user-land ("fully customized") snapshot.
    expect(traced.stderr).toContain("SnapshotMetadata::Type::kFullyCustomized");
  });
});
