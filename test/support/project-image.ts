import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toolPath } from "../e2e/env/tools.ts";

/**
 * Builds the project's own Dockerfile with buildah, without Docker Hub or get.helm.sh: the external
 * images it names (debian:bookworm-slim, node:<version>-bookworm-slim) are made here under those
 * names from the apt mirror and the npm packages this project already installs, and the `helm`
 * stage is supplied as a build context (`--build-context helm=docker-image://...`), which replaces
 * that stage whole. Base images are cached in vfs storage under .testenv/image, each made again
 * only when its inputs change. Runs as root.
 *
 * buildah and runc touch the host outside their flags: the blob-info cache
 * (/var/lib/containers/cache, root's fixed path) is removed after use when it was absent before
 * (see `hostSideEffects`); runc state goes under our storage (`--root`); builds use the host
 * network, so no CNI bridge or /var/lib/cni is made.
 */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const IMAGE_STORAGE = join(REPO_ROOT, ".testenv", "image");

const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const BLOB_INFO_CACHE = "/var/lib/containers/cache";
const NPM_VERSION = "11.21.2";

export interface Storage {
  readonly dir: string;
}

function dockerfileArg(name: string): string {
  const value = new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8"))?.[1];
  if (!value) throw new Error(`Dockerfile has no ARG ${name}=`);
  return value;
}

export function buildah(storage: Storage, args: string[], options: { cwd?: string } = {}): string {
  return execFileSync("buildah", ["--root", join(storage.dir, "root"), "--runroot", join(storage.dir, "run"), "--storage-driver", "vfs", ...args], {
    encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024, cwd: options.cwd,
  }).trim();
}

/** runc keeps its state here instead of /run/runc. */
function runcRoot(storage: Storage): string {
  return join(storage.dir, "runc");
}

function hash(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(part).update("\0");
  return h.digest("hex").slice(0, 16);
}

function imageExists(storage: Storage, name: string): boolean {
  try {
    buildah(storage, ["inspect", "--type", "image", name]);
    return true;
  } catch {
    return false;
  }
}

/** Makes `name` with `make` unless the stamp says it was made from the same `key`. */
function cached(storage: Storage, name: string, key: string, make: () => void): void {
  const stamp = join(storage.dir, `${name.replaceAll(/[/:]/g, "_")}.key`);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === key && imageExists(storage, name)) return;
  if (imageExists(storage, name)) buildah(storage, ["rmi", "-f", name]);
  make();
  writeFileSync(stamp, key);
}

export interface BaseImages {
  readonly debian: string;
  readonly node: string;
  readonly helm: string;
}

/** The three outside images the Dockerfile names, made locally; returns their local names. */
export function ensureBaseImages(storage: Storage): BaseImages {
  mkdirSync(join(storage.dir, "work"), { recursive: true });
  const work = join(storage.dir, "work");
  const nodeVersion = dockerfileArg("NODE_VERSION");
  const helmVersion = dockerfileArg("HELM_VERSION");
  const names = {
    debian: "docker.io/library/debian:bookworm-slim",
    node: `docker.io/library/node:${nodeVersion}-bookworm-slim`,
    helm: `localhost/ci-runner-helm:${helmVersion}`,
  };
  const arch = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();

  // debian:bookworm-slim: a minbase bootstrap from the mirror apt already uses, merged /usr (else
  // usrmerge pulls in perl), no docs, man pages or locales, no apt lists.
  const sources = "/etc/apt/sources.list.d/debian.sources";
  const mmdebstrap = [
    "--variant=minbase", "--format=tar", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*", "--aptopt=APT::Install-Recommends \"false\"",
    "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin",
  ];
  const debianKey = hash(readFileSync(sources), arch, ...mmdebstrap);
  cached(storage, names.debian, debianKey, () => {
    const tar = join(work, "debian.tar");
    execFileSync("mmdebstrap", ["--quiet", ...mmdebstrap, "bookworm", tar, sources], { stdio: ["ignore", "ignore", "pipe"] });
    const c = buildah(storage, ["from", "--quiet", "scratch"]);
    try {
      buildah(storage, ["add", "--quiet", c, tar, "/"]);
      buildah(storage, ["config", "--os", "linux", "--arch", arch, "--cmd", "bash", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", c]);
      buildah(storage, ["commit", "--quiet", c, names.debian]);
    } finally {
      buildah(storage, ["rm", c]);
      rmSync(tar, { force: true });
    }
  });

  // node:<version>-bookworm-slim: that base plus the Node this project runs on (the npm package
  // `node` installs the release binary) and npm, with the `node` user the real image has.
  const nodeBin = join(REPO_ROOT, "node_modules", "node", "bin", "node");
  const hostNode = execFileSync(nodeBin, ["--version"], { encoding: "utf8" }).trim();
  if (hostNode !== `v${nodeVersion}`) throw new Error(`node_modules/node is ${hostNode}, the Dockerfile names ${nodeVersion}: run npm ci`);
  const nodeKey = hash(debianKey, readFileSync(nodeBin), NPM_VERSION);
  cached(storage, names.node, nodeKey, () => {
    const npmDir = join(work, "npm");
    rmSync(npmDir, { recursive: true, force: true });
    mkdirSync(npmDir);
    const tgz = execFileSync("npm", ["pack", "--silent", `npm@${NPM_VERSION}`], { cwd: npmDir, encoding: "utf8" }).trim();
    execFileSync("tar", ["-xzf", tgz], { cwd: npmDir });
    const c = buildah(storage, ["from", "--quiet", "--pull=never", names.debian]);
    try {
      buildah(storage, ["copy", "--quiet", "--chmod", "0755", c, nodeBin, "/usr/local/bin/node"]);
      buildah(storage, ["copy", "--quiet", c, join(npmDir, "package"), "/usr/local/lib/node_modules/npm"]);
      runInContainer(storage, c, [
        "ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm",
        "ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx",
        "chown -R root:root /usr/local/lib/node_modules/npm",
        "groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node",
        "node --version >/dev/null && npm --version >/dev/null",
        "rm -rf /tmp/* /root/.npm",
      ].join("\n"));
      buildah(storage, ["config", "--env", `NODE_VERSION=${nodeVersion}`, "--cmd", "node", c]);
      buildah(storage, ["commit", "--quiet", c, names.node]);
    } finally {
      buildah(storage, ["rm", c]);
      rmSync(npmDir, { recursive: true, force: true });
    }
  });

  // The `helm` stage: the Helm of the Dockerfile's version, built from the Go module proxy as the
  // real-cluster tests run it (tools/helm/build.sh), at the path the final stage copies it from.
  const built = toolPath("helm4");
  cached(storage, names.helm, hash(readFileSync(built), helmVersion), () => {
    const dir = join(work, "helm");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    copyFileSync(built, join(dir, "helm"));
    const version = execFileSync(join(dir, "helm"), ["version", "--template", "{{.Version}}"], { encoding: "utf8" }).trim();
    if (version !== `v${helmVersion}`) throw new Error(`tools/helm builds Helm ${version}, the Dockerfile names ${helmVersion}`);
    const c = buildah(storage, ["from", "--quiet", "scratch"]);
    try {
      buildah(storage, ["copy", "--quiet", "--chmod", "0755", c, join(dir, "helm"), "/usr/local/bin/helm"]);
      buildah(storage, ["commit", "--quiet", c, names.helm]);
    } finally {
      buildah(storage, ["rm", c]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return names;
}

function runInContainer(storage: Storage, container: string, script: string): void {
  buildah(storage, ["run", "--runtime", "/usr/sbin/runc", "--runtime-flag", `root=${runcRoot(storage)}`, "--network", "host", container, "--", "sh", "-ec", script]);
}

export interface BuiltImage {
  readonly name: string;
  readonly seconds: number;
  /** As `buildah images` shows it: the uncompressed size of all layers, e.g. "496 MB". */
  readonly size: string;
}

/**
 * `buildah bud` of the project's Dockerfile with the local base images. npm and apt inside the
 * build reach their registries through this machine's TLS-re-signing egress: its CA bundle and an
 * npmrc naming it are mounted read-only at /usr/local/etc (npm's global config folder), which
 * leaves nothing in the image.
 */
export async function buildProjectImage(storage: Storage, base: BaseImages, name: string): Promise<BuiltImage> {
  const mounts = join(storage.dir, "build-mounts");
  mkdirSync(mounts, { recursive: true });
  copyFileSync(HOST_CA_BUNDLE, join(mounts, "egress-ca.pem"));
  writeFileSync(join(mounts, "npmrc"), "cafile=/usr/local/etc/egress-ca.pem\n");
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn("buildah", [
      "--root", join(storage.dir, "root"), "--runroot", join(storage.dir, "run"), "--storage-driver", "vfs",
      "bud", "--quiet", "--pull=never", "--runtime", "/usr/sbin/runc", "--runtime-flag", `root=${runcRoot(storage)}`, "--network", "host",
      "-v", `${mounts}:/usr/local/etc:ro`, "--build-context", `helm=docker-image://${base.helm}`,
      "--layers=false", "-t", name, "-f", "Dockerfile", ".",
    ], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => { output += c.toString("utf8"); });
    child.stderr.on("data", (c: Buffer) => { output += c.toString("utf8"); });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`buildah bud exited ${code}:\n${output.slice(-4000)}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  const size = buildah(storage, ["images", "--format", "{{.Size}}", name]);
  return { name, seconds, size };
}

export interface ImageConfig {
  readonly User?: string;
  readonly Env?: string[];
  readonly Entrypoint?: string[];
  readonly Cmd?: string[];
  readonly WorkingDir?: string;
}

/** The OCI config of a local image: user, environment, entrypoint, command, working folder. */
export function imageConfig(storage: Storage, image: string): ImageConfig {
  return (JSON.parse(buildah(storage, ["inspect", "--type", "image", image])) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Appended to the image's environment. */
  readonly env?: Record<string, string>;
  /** Read-only bind mounts, host path -> container path. */
  readonly mounts?: Record<string, string>;
}

/**
 * Runs the image's own ENTRYPOINT with `args` (or its CMD) the way the CronJob's pod does: as the
 * image's user, on a read-only root file system with a tmpfs /tmp. The host network namespace is
 * shared so the container reaches loopback stubs.
 */
export async function runImage(storage: Storage, image: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const config = imageConfig(storage, image);
  const container = buildah(storage, ["from", "--quiet", "--pull=never", image]);
  const bundle = join(storage.dir, `bundle-${container.slice(0, 12)}`);
  try {
    const rootfs = buildah(storage, ["mount", container]);
    mkdirSync(bundle, { recursive: true });
    execFileSync("runc", ["spec"], { cwd: bundle });
    const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as {
      root: object; process: Record<string, unknown>; mounts: object[]; linux: { namespaces: { type: string }[] };
    };
    const [uid = 0, gid = 0] = (config.User ?? "0:0").split(":").map(Number);
    spec.root = { path: rootfs, readonly: true };
    spec.process.terminal = false;
    spec.process.user = { uid, gid };
    spec.process.cwd = config.WorkingDir || "/";
    spec.process.env = [...(config.Env ?? []), ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)];
    spec.process.args = [...(config.Entrypoint ?? []), ...(args.length > 0 ? args : (config.Cmd ?? []))];
    spec.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=64m"] });
    for (const [source, destination] of Object.entries(options.mounts ?? {})) {
      spec.mounts.push({ destination, type: "bind", source, options: ["rbind", "ro"] });
    }
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "network");
    writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
    return await new Promise<RunResult>((resolve, reject) => {
      const child = spawn("runc", ["--root", runcRoot(storage), "run", "--bundle", bundle, `ci-runner-image-${container.slice(0, 12)}`], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => { stdout += c.toString("utf8"); });
      child.stderr.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  } finally {
    buildah(storage, ["umount", container]);
    buildah(storage, ["rm", container]);
    rmSync(bundle, { recursive: true, force: true });
  }
}

/**
 * What this process changes on the host outside its storage, recorded before the first buildah
 * call: `restore()` removes the blob-info cache if buildah created it.
 */
export function hostSideEffects(): { restore(): void } {
  const absent = !existsSync(BLOB_INFO_CACHE);
  const topAbsent = absent ? topmostAbsent(BLOB_INFO_CACHE) : undefined;
  return {
    restore() {
      if (topAbsent) rmSync(topAbsent, { recursive: true, force: true });
    },
  };
}

function topmostAbsent(path: string): string {
  let top = path;
  while (!existsSync(dirname(top))) top = dirname(top);
  return top;
}

/** Why the image cannot be built here, or undefined when it can. */
export function missingImageTools(): string | undefined {
  if (process.getuid?.() !== 0) return "building the image with buildah needs root";
  const missing = ["buildah", "runc", "mmdebstrap", "unzip", "dpkg"].filter((tool) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length > 0 ? `missing ${missing.join(", ")} (scripts/host-tools.sh installs them)` : undefined;
}
