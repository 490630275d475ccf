import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Two kubeconfig files in separate directories, each with a CA file relative to itself, that both
 * define the cluster `shared` and the context `a`: kubectl's merge keeps the first definition of
 * each name and the first current-context.
 */
export function kubeconfigList(options: { firstHasCurrentContext?: boolean } = {}) {
  const write = (name: string, ca: string, text: string) => {
    const dir = mkdtempSync(join(tmpdir(), `kubeconfig-${name}-`));
    writeFileSync(join(dir, "ca.crt"), ca);
    writeFileSync(join(dir, "config"), text);
    return { dir, file: join(dir, "config") };
  };
  const a = write("a", "A-CA", `apiVersion: v1
kind: Config
${options.firstHasCurrentContext === false ? "" : "current-context: a\n"}clusters:
- {name: shared, cluster: {server: "https://a:6443", certificate-authority: ca.crt}}
users:
- {name: a, user: {token: a-token}}
contexts:
- {name: a, context: {cluster: shared, user: a}}
`);
  const b = write("b", "B-CA", `apiVersion: v1
kind: Config
current-context: b
clusters:
- {name: shared, cluster: {server: "https://loses:6443"}}
- {name: b, cluster: {server: "https://b:6443", certificate-authority: ca.crt}}
users:
- {name: a, user: {token: loses}}
- {name: b, user: {token: b-token}}
contexts:
- {name: a, context: {cluster: b, user: b}}
- {name: b, context: {cluster: b, user: b}}
`);
  return { a, b, list: [a.file, join(a.dir, "missing"), b.file].join(":") };
}
