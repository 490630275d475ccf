import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * A throwaway CA, a serving certificate for 127.0.0.1/localhost, and a ServiceAccount signing key.
 * With `ca`, that CA is copied in instead of made: the real node bakes its CA into the Kaniko image,
 * and a CA that changed every run would rebuild that image every run.
 */
export function makePki(dir: string, ca?: CertPair, extraIps: readonly string[] = []): Pki {
  if (ca) {
    copyFileSync(ca.cert, join(dir, "ca.crt"));
    copyFileSync(ca.key, join(dir, "ca.key"));
  } else {
    openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ci-runner-test-ca");
  }
  const ips = ["127.0.0.1", "10.96.0.1", ...extraIps].map((ip) => `IP:${ip}`).join(",");
  const server = signCert(dir, "server", "/CN=kube-apiserver", `subjectAltName=${ips},DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth`);
  openssl(dir, "genrsa", "-out", "sa.key", "2048");
  openssl(dir, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
  return {
    caCert: join(dir, "ca.crt"),
    serverCert: server.cert,
    serverKey: server.key,
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
  };
}

/** A key and a certificate signed by the CA in `dir` (ca.crt, ca.key); `extensions` in openssl's -extfile form. */
export function signCert(dir: string, name: string, subject: string, extensions: string): CertPair {
  writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/**
 * A CA kept across runs in `dir`, made again when it expires within a week. Only test images and
 * test clients trust it.
 */
export function cachedCa(dir: string): CertPair {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "ca.crt");
  const key = join(dir, "ca.key");
  if (existsSync(cert) && existsSync(key) && validFor(cert, 7 * 24 * 3600)) return { cert, key };
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "60", "-subj", "/CN=ci-runner-real-node-test-ca");
  return { cert, key };
}

function validFor(cert: string, seconds: number): boolean {
  try {
    openssl(".", "x509", "-checkend", String(seconds), "-noout", "-in", cert);
    return true;
  } catch {
    return false;
  }
}
