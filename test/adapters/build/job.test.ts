import { describe, expect, it } from "vitest";
import { kanikoContext, kanikoJob } from "../../../src/adapters/build/job.ts";
import { loadConfig } from "../../../src/config/load.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "tkn_0123456789abcdefghijklmnop";
const config = loadConfig({
  REPO: "acme/shop", IMAGE: "registry.local:5000/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: "feature/x",
  GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token", REGISTRY_SECRET: "regcred", BUILD_CONTEXT: "app", BUILD_TIMEOUT: "15m",
}, {});

describe("Kaniko Job manifest", () => {
  const job = kanikoJob(config, SHA, 2);
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0];

  it("is named and labelled from the SHA and attempt", () => {
    expect(job.metadata).toMatchObject({ name: "build-shop-0123456789ab-2", namespace: "cicd", labels: { "ci-runner.dev/sha": SHA, "ci-runner.dev/attempt": "2" } });
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
  });

  it("builds exactly that commit and pushes both tags", () => {
    expect(container?.args).toEqual([
      `--context=git://github.com/acme/shop.git#refs/heads/feature/x#${SHA}`,
      "--git=single-branch=true",
      "--context-sub-path=app",
      "--dockerfile=Dockerfile",
      `--destination=registry.local:5000/acme/shop:${SHA}`,
      "--destination=registry.local:5000/acme/shop:feature-x-latest",
      `--build-arg=REVISION=${SHA}`,
      `--label=org.opencontainers.image.revision=${SHA}`,
      "--label=org.opencontainers.image.source=https://github.com/acme/shop",
      "--label=ci-runner.dev/recipe=https://github.com/acme/shop dockerfile=Dockerfile context=app args=REVISION={sha}",
      "--digest-file=/dev/termination-log",
      "--cache=true",
      "--cache-repo=registry.local:5000/acme/shop/cache",
      "--snapshot-mode=full",
      "--push-retry=2",
    ]);
    expect(container?.terminationMessagePath).toBe("/dev/termination-log");
    expect(container?.resources).toEqual({ requests: { cpu: "250m", memory: "512Mi", "ephemeral-storage": "1Gi" }, limits: { cpu: "2", memory: "2Gi", "ephemeral-storage": "10Gi" } });
  });

  it("takes build arguments with {sha} and {branch}, the cache off, another snapshot mode and limits from the settings", () => {
    const tuned = loadConfig({
      REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", BRANCH: "dev",
      BUILD_ARGS: "REVISION={sha}, CHANNEL={branch},EMPTY=", BUILD_CACHE: "false", SNAPSHOT_MODE: "redo", PUSH_RETRY: "0",
      BUILD_CPU_LIMIT: "2", BUILD_MEMORY_LIMIT: "4Gi", BUILD_MEMORY_REQUEST: "1Gi",
    }, {});
    const tunedContainer = kanikoJob(tuned, SHA, 1).spec?.template.spec?.containers[0];
    expect(tunedContainer?.args).toEqual(expect.arrayContaining([`--build-arg=REVISION=${SHA}`, "--build-arg=CHANNEL=dev", "--build-arg=EMPTY=", "--cache=false", "--snapshot-mode=redo", "--push-retry=0"]));
    expect(tunedContainer?.args?.some((a) => a.startsWith("--cache-repo"))).toBe(false);
    expect(tunedContainer?.resources).toEqual({ requests: { cpu: "250m", memory: "1Gi", "ephemeral-storage": "1Gi" }, limits: { cpu: "2", memory: "4Gi", "ephemeral-storage": "10Gi" } });
  });

  it("leaves retries to us, has a deadline and a TTL", () => {
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 86400 });
    expect(pod?.restartPolicy).toBe("Never");
  });

  it("references secrets, never carries their values, and is not privileged", () => {
    const text = JSON.stringify(job);
    expect(text).not.toContain(TOKEN);
    expect(container?.env).toEqual([
      { name: "GIT_USERNAME", value: "x-access-token" },
      { name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: "git-token", key: "token" } } },
    ]);
    expect(pod?.volumes).toEqual([{ name: "docker-config", secret: { secretName: "regcred", items: [{ key: ".dockerconfigjson", path: "config.json" }] } }]);
    expect(container?.volumeMounts).toEqual([{ name: "docker-config", mountPath: "/kaniko/.docker", readOnly: true }]);
    expect(container?.securityContext?.privileged).toBe(false);
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.hostNetwork ?? pod?.hostPID ?? pod?.hostIPC).toBeUndefined();
  });

  it("a public repository (no GIT_TOKEN) references no token Secret, even when GIT_TOKEN_SECRET is set", () => {
    const publicRepo = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GIT_TOKEN_SECRET: "git-token" }, {});
    const env = kanikoJob(publicRepo, SHA, 1).spec?.template.spec?.containers[0]?.env ?? [];
    expect(JSON.stringify(env)).not.toContain("secretKeyRef");
    expect(env).toEqual([]);
  });

  it("with a GitHub App the Job reads the token minted for it from the Secret named after it, as plan shows", () => {
    // A PEM-shaped placeholder, put together here so secret scanners do not mistake it for a key.
    const pem = (edge: string) => `-----${edge} RSA PRIVATE KEY-----`;
    const key = `${pem("BEGIN")}\\nMIIB\\n${pem("END")}`;
    const app = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GITHUB_APP_ID: "12", GITHUB_APP_PRIVATE_KEY: key }, {});
    const job = kanikoJob(app, SHA, 1);
    expect(job.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: `${job.metadata?.name}-git-token`, key: "token" } } });
  });

  it("a plain-HTTP git URL tells Kaniko to clone over HTTP", () => {
    const http = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", GIT_URL: "http://git.local:8080/acme/shop.git" }, {});
    expect(kanikoJob(http, SHA, 1).spec?.template.spec?.containers[0]?.env).toEqual([{ name: "GIT_PULL_METHOD", value: "http" }]);
  });

  it("turns a clone URL into Kaniko's git context", () => {
    expect(kanikoContext("https://ghe.example.com/acme/shop.git", "main", SHA)).toBe(`git://ghe.example.com/acme/shop.git#refs/heads/main#${SHA}`);
  });
});
