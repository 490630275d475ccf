import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid", GIT_CONFIG_NOSYSTEM: "1" };

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, encoding: "utf8" }).trim();
}

/** A real bare repository with a work tree to commit from, as a test application would have. */
export function gitRepo() {
  const root = mkdtempSync(join(tmpdir(), "ci-runner-git-"));
  const bare = join(root, "app.git");
  const work = join(root, "work");
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  git(bare, "config", "uploadpack.allowFilter", "true");
  git(bare, "config", "uploadpack.allowAnySHA1InWant", "true");
  git(root, "init", "--quiet", "--initial-branch=main", work);
  git(work, "remote", "add", "origin", bare);
  return {
    root,
    bare,
    /** Writes files, commits them on main, pushes, and returns the commit SHA. */
    commit(files: Record<string, string>, message = "change"): string {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, path)), { recursive: true });
        writeFileSync(join(work, path), content);
      }
      git(work, "add", "-A");
      git(work, "commit", "--quiet", "-m", message);
      git(work, "push", "--quiet", "origin", "main");
      return git(work, "rev-parse", "HEAD");
    },
  };
}

export const SAMPLE_CHART = {
  "chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
  "chart/values.yaml": "image:\n  repository: example\n  tag: latest\n",
  "chart/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  tag: {{ .Values.image.tag | quote }}\n",
};
