import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startApiProxy } from "../env/api-proxy.ts";
import { api, writeKubeconfig } from "../env/control-plane.ts";
import type { EnvironmentInfo } from "../env/environment.ts";
import { REPO_ROOT } from "../env/environment.ts";
import { startGitServer } from "../env/git-server.ts";
import { APP_FILES, realAppFiles } from "./app.ts";

export type HelmMajor = "helm3" | "helm4";

export const TOKEN = "tkn_e2eSecretToken0123456789abcdefXYZ";
const GIT_ENV = { GIT_AUTHOR_NAME: "e2e", GIT_AUTHOR_EMAIL: "e2e@example.invalid", GIT_COMMITTER_NAME: "e2e", GIT_COMMITTER_EMAIL: "e2e@example.invalid", GIT_CONFIG_NOSYSTEM: "1" };

export interface RunResult {
  readonly code: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** stderr as JSON log records. */
  readonly logs: { msg: string; level: string; [key: string]: unknown }[];
}

export interface App {
  readonly name: string;
  readonly repo: string;
  readonly release: string;
  readonly namespace: string;
  readonly image: string;
  /** Commits files (the sample app on first use), pushes, returns the SHA. */
  commit(files?: Record<string, string>): string;
  env(helm: HelmMajor, extra?: Record<string, string>): Record<string, string>;
}

/**
 * One test file's view of the shared environment: its own git server, API proxy and apps. On the
 * real node the git server speaks HTTPS on the port pods reach, and the runner gets what the real
 * build needs (Kaniko image, clone URL as pods see it, the test CA for git on the host).
 */
export async function e2eWorld(info: EnvironmentInfo) {
  const root = mkdtempSync(join(info.dir, "git-"));
  const privateRepos = new Set<string>();
  const { real } = info;
  const git = await startGitServer({ root, token: TOKEN, privateRepos, ...(real ? { tls: real.gitTls, port: real.gitPort } : {}) });
  const cloneBase = real ? `https://${real.gateway}:${git.port}` : git.url;
  const appFiles = real ? realAppFiles(real.baseImage) : APP_FILES;
  const realEnv: Record<string, string> = real ? {
    KANIKO_IMAGE: real.kanikoImage, GIT_SSL_CAINFO: info.caCert, NODE_EXTRA_CA_CERTS: info.caCert, HELM_TIMEOUT: "120s",
  } : {};
  const proxy = await startApiProxy(info.server, { caCert: info.caCert, serverCert: join(dirname(info.caCert), "server.crt"), serverKey: join(dirname(info.caCert), "server.key") });
  const home = mkdtempSync(join(tmpdir(), "ci-runner-home-"));
  const adminKubeconfig = join(root, "admin-via-proxy.kubeconfig");
  writeKubeconfig(adminKubeconfig, proxy.url, info.caCert, info.adminToken);
  const children = new Set<ChildProcess>();

  function app(name: string, options: { private?: boolean } = {}): App {
    const repo = `acme/${name}`;
    const bare = join(root, "acme", `${name}.git`);
    const work = join(root, "work", name);
    mkdirSync(dirname(bare), { recursive: true });
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    execFileSync("git", ["config", "uploadpack.allowFilter", "true"], { cwd: bare });
    execFileSync("git", ["config", "uploadpack.allowAnySHA1InWant", "true"], { cwd: bare });
    execFileSync("git", ["init", "--quiet", "--initial-branch=main", work]);
    if (options.private) privateRepos.add(repo);
    provisionDeployNamespace(info, name);
    let commits = 0;
    return {
      name, repo, release: name, namespace: name, image: `${info.registry.host}/acme/${name}`,
      commit(files) {
        const content = commits++ === 0 ? { ...appFiles, ...files } : (files ?? { "app.txt": `version ${commits}\n` });
        for (const [path, text] of Object.entries(content)) {
          mkdirSync(dirname(join(work, path)), { recursive: true });
          writeFileSync(join(work, path), text);
        }
        const run = (...args: string[]) => execFileSync("git", args, { cwd: work, env: { ...process.env, ...GIT_ENV }, encoding: "utf8" }).trim();
        run("add", "-A");
        run("commit", "--quiet", "-m", `commit ${commits}`);
        run("push", "--quiet", bare, "main");
        return run("rev-parse", "HEAD");
      },
      env(helm, extra = {}) {
        return {
          REPO: repo, IMAGE: `${info.registry.host}/acme/${name}`, CHART_PATH: "chart", RELEASE: name, DEPLOY_NS: name,
          CICD_NS: "cicd", GITHUB_API_URL: git.apiUrl, GIT_URL: `${cloneBase}/acme/${name}.git`,
          REGISTRY_SECRET: "regcred", REGISTRY_INSECURE: "true", KANIKO_IMAGE: "e2e.local/kaniko:ok",
          HELM_BIN: helm === "helm3" ? info.helm3 : info.helm4, HELM_TIMEOUT: "60s",
          KUBECONFIG: adminKubeconfig, LOG_FORMAT: "json", ...realEnv, ...extra,
        };
      },
    };
  }

  /**
   * Runs the real bundle as a child in its own process group, like a container. With `killOn`,
   * the API proxy holds the first matching request and the whole group gets SIGKILL right then.
   */
  async function run(args: string[], env: Record<string, string>, options: { killOn?: Parameters<typeof proxy.holdNext>[0] } = {}): Promise<RunResult> {
    const held = options.killOn ? proxy.holdNext(options.killOn) : undefined;
    const child = spawn(process.execPath, [join(REPO_ROOT, "bin", "ci-runner.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => { stdout += c.toString("utf8"); });
    child.stderr?.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
    let killed = false;
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    if (held) {
      const first = await Promise.race([held.then(() => "held" as const), exited.then(() => "exited" as const)]);
      if (first === "held" && child.pid !== undefined) {
        killed = true;
        process.kill(-child.pid, "SIGKILL");
      }
    }
    const code = await exited;
    children.delete(child);
    proxy.releaseHeld();
    const logs = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    return { code, killed, stdout, stderr, logs };
  }

  async function get<T = Record<string, unknown>>(path: string): Promise<T | undefined> {
    const response = await api(info.server, info.adminToken, info.caCert, path);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${response.text}`);
    return response.json() as T;
  }

  function helm(major: HelmMajor, ...args: string[]): string {
    return execFileSync(major === "helm3" ? info.helm3 : info.helm4, [...args, "--kubeconfig", info.kubeconfig], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home } });
  }

  /** Starts `helm upgrade` of the app's chart as a run would, and SIGKILLs helm mid-upgrade. */
  async function killHelmDuringUpgrade(major: HelmMajor, target: App): Promise<void> {
    const chart = join(root, "work", target.name, "chart");
    const held = proxy.holdNext((r) => r.method === "PATCH" && r.path.startsWith(`/apis/apps/v1/namespaces/${target.namespace}/deployments/`));
    const child = spawn(major === "helm3" ? info.helm3 : info.helm4, ["upgrade", target.release, chart, "-n", target.namespace, "--kubeconfig", adminKubeconfig, "--set-string", "image.tag=killed"], { stdio: "ignore", env: { PATH: process.env.PATH, HOME: home } });
    const exited = new Promise((resolve) => child.on("close", resolve));
    await held;
    child.kill("SIGKILL");
    await exited;
    proxy.releaseHeld();
  }

  /** The Secret the build pod reads the token from (by reference). */
  async function ensureTokenSecret(token: string): Promise<void> {
    const body = { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "git-token", namespace: "cicd" }, data: { token: Buffer.from(token).toString("base64") } };
    const response = await api(info.server, info.adminToken, info.caCert, "/api/v1/namespaces/cicd/secrets", { method: "POST", body: JSON.stringify(body) });
    if (!response.ok && response.status !== 409) throw new Error(`creating git-token: HTTP ${response.status}`);
  }

  /** Wrappers for helm and git that log every argv before running the real tool. */
  function argvSpy() {
    const dir = mkdtempSync(join(root, "spy-"));
    const log = join(dir, "argv.log");
    const wrap = (name: string, real: string) => {
      const file = join(dir, name);
      writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
      return file;
    };
    const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
    mkdirSync(join(dir, "bin"));
    const gitWrapper = wrap("git", realGit);
    execFileSync("mv", [gitWrapper, join(dir, "bin", "git")]);
    return {
      path: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
      helm: (major: HelmMajor) => wrap("helm", major === "helm3" ? info.helm3 : info.helm4),
      calls: () => (existsSync(log) ? readFileSync(log, "utf8") : ""),
    };
  }

  /** A kubeconfig with a TokenRequest token of a ServiceAccount, through the proxy. */
  async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const response = await api(info.server, info.adminToken, info.caCert, `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      method: "POST", body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } }),
    });
    if (!response.ok) throw new Error(`TokenRequest for ${namespace}/${name}: HTTP ${response.status} ${response.text}`);
    const token = (response.json() as { status: { token: string } }).status.token;
    const file = join(root, `${name}.kubeconfig`);
    writeKubeconfig(file, proxy.url, info.caCert, token, name);
    return file;
  }

  /** What the git server and GitHub endpoint were asked; over HTTPS on the real node, trusting the test CA. */
  async function gitStats() {
    const text = await new Promise<string>((resolve, reject) => {
      const url = `${git.url}/_stats`;
      const get = url.startsWith("https:") ? httpsGet : httpGet;
      get(url, { ca: readFileSync(info.caCert) }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => { body += c.toString("utf8"); });
        res.on("end", () => resolve(body));
      }).on("error", reject);
    });
    return JSON.parse(text) as { apiRequests: number; apiCounted: number; gitRequests: number; urls: string[] };
  }

  return {
    info, git, proxy, app, run, get, helm, gitStats, killHelmDuringUpgrade, ensureTokenSecret, argvSpy, serviceAccountKubeconfig, adminKubeconfig, root, home,
    async close() {
      for (const child of children) if (child.pid) process.kill(-child.pid, "SIGKILL");
      await proxy.close();
      await git.close();
    },
  };
}

export type World = Awaited<ReturnType<typeof e2eWorld>>;

export { writeKubeconfig };

/**
 * An app's deploy namespace as an installation has it (ci-runner never creates namespaces): the
 * namespace with Pod Security baseline, and the identity helm acts as there, exactly as
 * manifests/base/rbac-deploy.yaml grants it (its first three objects, moved to `namespace`).
 */
export function provisionDeployNamespace(info: EnvironmentInfo, namespace: string): void {
  const base = readFileSync(join(REPO_ROOT, "manifests", "base", "rbac-deploy.yaml"), "utf8").split(/^---$/m).slice(0, 3);
  const identity = base.map((doc) => doc.replaceAll("namespace: app", `namespace: ${namespace}`));
  const ns = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n`;
  execFileSync(info.kubectl, ["--kubeconfig", info.kubeconfig, "apply", "--server-side", "-f", "-"], { input: [ns, ...identity].join("\n---\n"), stdio: ["pipe", "ignore", "pipe"] });
}
