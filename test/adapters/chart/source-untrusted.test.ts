import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { GitChartSource } from "../../../src/adapters/chart/source.ts";
import { createExec } from "../../../src/adapters/exec.ts";
import { AttemptFailure, ConfigError, TransientError } from "../../../src/errors.ts";
import { Secrets } from "../../../src/log.ts";
import { childEnv } from "../../../src/wiring/child-env.ts";
import { gitRepo, SAMPLE_CHART } from "../../support/git-repo.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

function source(gitUrl: string, options: { valuesFiles?: string[]; env?: Record<string, string> } = {}) {
  const exec = createExec(childEnv({ ...process.env, ...options.env }), new Secrets());
  return new GitChartSource({ gitUrl, chartPath: "chart", valuesFiles: options.valuesFiles ?? [], auth: { token: async () => undefined }, exec });
}

/** Commits a symlink, as a hostile commit would: git stores the link, not its target. */
function commitLink(repo: ReturnType<typeof gitRepo>, path: string, target: string): string {
  const at = join(repo.root, "work", path);
  mkdirSync(dirname(at), { recursive: true });
  symlinkSync(target, at);
  return repo.commit({});
}

describe("a commit's chart is untrusted input", () => {
  it("refuses a symlink out of the chart (the runner's own files), as a failed attempt", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const sha = commitLink(repo, "chart/templates/token.yaml", "/etc/hostname");
    const error = await source(`file://${repo.bare}`).checkout(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toMatch(/^commit \w{12} is refused: chart\/templates\/token.yaml is a symlink to \/etc\/hostname, outside chart;/);
  });

  it("refuses a symlink to a folder inside the chart (`ln -s . z`: Helm would walk it forty levels deep)", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const sha = commitLink(repo, "chart/templates/z", ".");
    const error = await source(`file://${repo.bare}`).checkout(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toMatch(/chart\/templates\/z is a symlink to a directory \(chart\/templates\); Helm would walk it again/);
  });

  it("refuses a relative symlink that climbs out of the chart into the rest of the checkout", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const sha = commitLink(repo, "chart/templates/up.yaml", "../../../../../../../../etc/hostname");
    await expect(source(`file://${repo.bare}`).checkout(sha)).rejects.toThrow(/chart\/templates\/up.yaml is a symlink to \/etc\/hostname, outside chart/);
  });

  it("refuses a values file that is a symlink out of the checkout", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const sha = commitLink(repo, "env/dev.yaml", "/etc/hostname");
    await expect(source(`file://${repo.bare}`, { valuesFiles: ["env/dev.yaml"] }).checkout(sha)).rejects.toThrow(/env\/dev.yaml resolves to \/etc\/hostname, outside the checkout/);
  });

  it("accepts a symlink that stays inside the chart", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const sha = commitLink(repo, "chart/templates/alias.yaml", "configmap.yaml");
    const checkout = await source(`file://${repo.bare}`).checkout(sha);
    expect(readFileSync(join(checkout.chartDir, "templates/alias.yaml"), "utf8")).toContain("kind: ConfigMap");
    await checkout.dispose();
  });

  it("refuses a file larger than Helm allows in a chart", async () => {
    const repo = gitRepo();
    const sha = repo.commit({ ...SAMPLE_CHART, "chart/files/huge.bin": "x".repeat(5 * 1024 * 1024 + 1) });
    const error = await source(`file://${repo.bare}`).checkout(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptFailure);
    expect((error as Error).message).toMatch(/chart\/files\/huge.bin has 5242881 bytes, more than the 5242880 Helm allows a file/);
  });
});

describe("git failures, told apart by git's own messages", () => {
  const server = strictServerPerTest();
  const REFS = "/app.git/info/refs?service=git-upload-pack";

  it("a 403 from the git server is a config error, not a retry", async () => {
    server.expect({ method: "GET", path: REFS, reply: { status: 403, body: "forbidden" } });
    const error = await source(`${server.url}/app.git`).checkout("a".repeat(40)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^git fetch of http:\S+ was refused \(403\): .*The requested URL returned error: 403$/);
  });

  it("a 401 without a token asks for GIT_TOKEN", async () => {
    server.expect({ method: "GET", path: REFS, reply: { status: 401, headers: { "www-authenticate": 'Basic realm="git"' }, body: "" } });
    const error = await source(`${server.url}/app.git`).checkout("a".repeat(40)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).remedy).toMatch(/private repository needs GIT_TOKEN/);
  });

  it("a missing commit whose SHA contains 401 and 403 is transient, not an auth failure", async () => {
    const repo = gitRepo();
    repo.commit(SAMPLE_CHART);
    const error = await source(`file://${repo.bare}`).checkout(`401403${"0".repeat(34)}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/^git fetch of file:\S+ failed: /);
  });
});

describe("git over HTTPS with a private CA", () => {
  const dir = mkdtempSync(join(tmpdir(), "ci-runner-ca-"));
  const [key, cert] = [join(dir, "key.pem"), join(dir, "ca.pem")];
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });

  async function httpsForbidden() {
    const seen: string[] = [];
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(403).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/app.git`;
    return { url, seen, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
  }

  it("an untrusted certificate is a config error naming GIT_SSL_CAINFO, never a retry", async () => {
    const server = await httpsForbidden();
    const error = await source(server.url).checkout("a".repeat(40)).catch((e: unknown) => e);
    await server.close();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/TLS certificate is not trusted/);
    expect((error as ConfigError).remedy).toMatch(/GIT_SSL_CAINFO/);
    expect(server.seen).toEqual([]);
  });

  it("GIT_SSL_CAINFO reaches git through the child environment", async () => {
    const server = await httpsForbidden();
    const error = await source(server.url, { env: { GIT_SSL_CAINFO: cert } }).checkout("a".repeat(40)).catch((e: unknown) => e);
    await server.close();
    expect((error as Error).message).toMatch(/was refused \(403\)/);
    expect(server.seen).toEqual(["GET /app.git/info/refs?service=git-upload-pack"]);
  });
});

it("the CA settings pass the child environment allowlist; tokens do not", () => {
  expect(childEnv({ GIT_SSL_CAINFO: "/ca.pem", GIT_SSL_CAPATH: "/certs", GIT_TOKEN: "x" })).toEqual({ GIT_SSL_CAINFO: "/ca.pem", GIT_SSL_CAPATH: "/certs" });
});

