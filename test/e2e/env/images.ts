import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The real node's images, made with buildah from local files only (no registry download): the
 * sandbox's pause, a busybox base for the sample app, and the Kaniko executor. Storage is vfs
 * under `storage` (.testenv/buildah), kept across runs; an image is made again only when its
 * inputs change. Each run pushes them to its own registry.
 */
export interface ImageInputs {
  /** Folder with `executor` and `pause` (tools/kaniko/build.sh). */
  readonly bin: string;
  /** The test CA Kaniko must trust to clone from the git server over HTTPS. */
  readonly caCert: string;
}

export const IMAGES = { pause: "pause:1", busybox: "acme-base/busybox:1.35", kaniko: "kaniko:1" } as const;
export type ImageName = keyof typeof IMAGES;

const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

function buildah(storage: string, ...args: string[]): string {
  return execFileSync("buildah", ["--root", join(storage, "root"), "--runroot", join(storage, "run"), "--storage-driver", "vfs", ...args], {
    encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024,
  }).trim();
}

function sha(...files: string[]): string {
  const hash = createHash("sha256");
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest("hex").slice(0, 16);
}

/** Makes the images whose inputs changed; returns the local name of each. */
export function ensureImages(storage: string, inputs: ImageInputs): Record<ImageName, string> {
  mkdirSync(storage, { recursive: true });
  const names = { pause: `localhost/${IMAGES.pause}`, busybox: `localhost/${IMAGES.busybox}`, kaniko: `localhost/${IMAGES.kaniko}` };
  ensureImage(storage, names.pause, sha(join(inputs.bin, "pause")), (root) => {
    copyFileSync(join(inputs.bin, "pause"), join(root, "pause"));
    return ["--entrypoint", '["/pause"]'];
  });
  ensureImage(storage, names.busybox, sha("/bin/busybox"), (root) => {
    for (const sub of ["bin", "dev", "etc", "proc", "root", "sys", "tmp", "www"]) mkdirSync(join(root, sub));
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync("/bin/busybox", join(root, "bin", "busybox"));
    const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox");
    for (const applet of applets) symlinkSync("busybox", join(root, "bin", applet));
    writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    writeFileSync(join(root, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
    return ["--env", "PATH=/bin", "--cmd", "/bin/sh"];
  });
  ensureImage(storage, names.kaniko, sha(join(inputs.bin, "executor"), inputs.caCert, HOST_CA_BUNDLE), (root) => {
    for (const sub of ["kaniko/.docker", "kaniko/ssl/certs", "etc", "workspace"]) mkdirSync(join(root, sub), { recursive: true });
    copyFileSync(join(inputs.bin, "executor"), join(root, "kaniko", "executor"));
    writeFileSync(join(root, "kaniko", ".docker", "config.json"), "{}\n");
    // Kaniko clones the build context over HTTPS from the test git server, signed by the test CA.
    writeFileSync(join(root, "kaniko", "ssl", "certs", "ca-certificates.crt"), Buffer.concat([readFileSync(HOST_CA_BUNDLE), readFileSync(inputs.caCert)]));
    writeFileSync(join(root, "etc", "nsswitch.conf"), "hosts: files dns\n");
    return [
      "--entrypoint", '["/kaniko/executor"]', "--workingdir", "/workspace",
      "--env", "PATH=/usr/local/bin:/kaniko", "--env", "DOCKER_CONFIG=/kaniko/.docker/", "--env", "SSL_CERT_DIR=/kaniko/ssl/certs",
      "--env", "HOME=/root", "--env", "USER=root",
    ];
  });
  return names;
}

/** `fill` writes the root file system into an empty folder and returns `buildah config` arguments. */
function ensureImage(storage: string, name: string, inputs: string, fill: (root: string) => string[]): void {
  const stamp = join(storage, `${name.replaceAll("/", "_")}.inputs`);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === inputs && imageExists(storage, name)) return;
  const root = join(storage, "rootfs");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root);
  const config = fill(root);
  try {
    buildah(storage, "rmi", "-f", name);
  } catch {
    // not there yet
  }
  const container = buildah(storage, "from", "--quiet", "scratch");
  try {
    buildah(storage, "copy", "--quiet", container, root, "/");
    buildah(storage, "config", ...config, container);
    buildah(storage, "commit", "--quiet", "--format", "docker", container, name);
  } finally {
    buildah(storage, "rm", container);
    rmSync(root, { recursive: true, force: true });
  }
  writeFileSync(stamp, inputs);
}

function imageExists(storage: string, name: string): boolean {
  try {
    buildah(storage, "inspect", "--type", "image", name);
    return true;
  } catch {
    return false;
  }
}

/** Pushes the local images to `registryHost` (plain HTTP), with credentials from a file, not argv. */
export function pushImages(storage: string, local: Record<ImageName, string>, registryHost: string, authFile: string): void {
  for (const key of Object.keys(IMAGES) as ImageName[]) {
    buildah(storage, "push", "--quiet", "--tls-verify=false", "--authfile", authFile, local[key], `docker://${registryHost}/${IMAGES[key]}`);
  }
}

export function writeAuthFile(file: string, registryHost: string, user: string, password: string): void {
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  writeFileSync(file, JSON.stringify({ auths: { [registryHost]: { auth } } }), { mode: 0o600 });
}
