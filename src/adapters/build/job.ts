import type { V1Job } from "@kubernetes/client-node";
import type { Config } from "../../config/load.ts";
import { branchTag, buildJobName, buildLabels, LABELS, tokenSecretName } from "../../names.ts";
import type { BuildPlan, BuildRequest } from "../../reconcile/ports.ts";

/** Seconds a finished build Job stays for `kubectl logs` before the TTL controller removes it. */
export const BUILD_TTL_SECONDS = 24 * 3600;

type BuildConfig = Pick<
  Config,
  "release" | "image" | "branch" | "gitUrl" | "kanikoImage" | "dockerfile" | "buildContext" | "buildTimeoutSeconds"
  | "cicdNamespace" | "registrySecret" | "gitToken" | "gitTokenSecret" | "githubApp" | "registryInsecure"
  | "buildArgs" | "snapshotMode" | "buildCache" | "pushRetry" | "buildResources"
>;

/** Kaniko's git context: git://host/path#refs/heads/<branch>#<sha>, cloned over HTTPS by Kaniko. */
export function kanikoContext(gitUrl: string, branch: string, sha: string): string {
  const url = new URL(gitUrl);
  return `git://${url.host}${url.pathname}#refs/heads/${branch}#${sha}`;
}

/** A build argument's value for this build: {sha} and {branch} replaced. */
export function expand(value: string, branch: string, sha: string): string {
  return value.replaceAll("{sha}", sha).replaceAll("{branch}", branch);
}

/** The repository's web address for org.opencontainers.image.source: the clone URL without .git. */
export function sourceUrl(gitUrl: string): string {
  const url = new URL(gitUrl);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\.git$/, "")}`;
}

/** What a build pushes and the Job that does it: exactly what `start` creates, for `plan`. */
export function buildPlan(config: BuildConfig, request: BuildRequest): BuildPlan {
  return { images: buildDestinations(config, request.sha), job: kanikoJob(config, request.sha, request.attempt) };
}

/**
 * How this target builds its image, as one line: the repository, the Dockerfile, the context and
 * the build arguments as configured ({sha} and {branch} unexpanded, so every commit shares it).
 * Each build carries it as a label; two releases that share an IMAGE must share it too.
 */
export function buildRecipe(config: Pick<Config, "gitUrl" | "dockerfile" | "buildContext" | "buildArgs">): string {
  const args = config.buildArgs.map((a) => `${a.name}=${a.value}`).join(",");
  return `${sourceUrl(config.gitUrl)} dockerfile=${config.dockerfile} context=${config.buildContext} args=${args}`;
}

/** Where the build pushes: the immutable SHA tag, and the branch's moving alias. */
export function buildDestinations(config: Pick<Config, "image" | "branch">, sha: string): readonly string[] {
  return [`${config.image}:${sha}`, `${config.image}:${branchTag(config.branch)}`];
}

/**
 * The build Job for one SHA and attempt. Pure, so `plan` prints exactly what `sync` creates.
 * Nothing privileged; the registry Secret is mounted as Kaniko's docker config and the git token
 * reaches the pod only by Secret reference. Kaniko writes the pushed digest to the termination
 * message, where we read it back.
 */
export function kanikoJob(config: BuildConfig, sha: string, attempt: number): V1Job {
  const name = buildJobName(config.release, sha, attempt);
  const labels = buildLabels(config.release, sha, attempt);
  const args = [
    `--context=${kanikoContext(config.gitUrl, config.branch, sha)}`,
    // The followed branch only, not every branch of the repository (Kaniko cannot clone shallow).
    "--git=single-branch=true",
    ...(config.buildContext !== "." ? [`--context-sub-path=${config.buildContext}`] : []),
    `--dockerfile=${config.dockerfile}`,
    ...buildDestinations(config, sha).map((destination) => `--destination=${destination}`),
    ...config.buildArgs.map((arg) => `--build-arg=${arg.name}=${expand(arg.value, config.branch, sha)}`),
    // Where an image came from, in the labels registries and scanners read.
    `--label=org.opencontainers.image.revision=${sha}`,
    `--label=org.opencontainers.image.source=${sourceUrl(config.gitUrl)}`,
    // What built it: a release sharing IMAGE with another build configuration is refused, never mixed.
    `--label=${LABELS.recipe}=${buildRecipe(config)}`,
    "--digest-file=/dev/termination-log",
    ...(config.buildCache ? ["--cache=true", `--cache-repo=${config.image}/cache`] : ["--cache=false"]),
    `--snapshot-mode=${config.snapshotMode}`,
    `--push-retry=${config.pushRetry}`,
    ...(config.registryInsecure ? ["--insecure", "--skip-tls-verify"] : []),
  ];
  // The token Secret is referenced only when the runner has a token itself: a public repository
  // needs no Secret, and a pod that references a missing one never starts.
  // With a GitHub App, each build Job reads a token minted for it from a Secret named after it.
  const tokenSecret = config.githubApp !== undefined ? tokenSecretName(name) : config.gitTokenSecret;
  const hasToken = config.githubApp !== undefined || config.gitToken !== undefined;
  const token = hasToken && tokenSecret !== undefined ? [
    { name: "GIT_USERNAME", value: "x-access-token" },
    { name: "GIT_PASSWORD", valueFrom: { secretKeyRef: { name: tokenSecret, key: "token" } } },
  ] : [];
  // Kaniko clones its git:// context over HTTPS unless told otherwise.
  const pull = new URL(config.gitUrl).protocol === "http:" ? [{ name: "GIT_PULL_METHOD", value: "http" }] : [];
  const env = [...token, ...pull];
  const dockerConfig = config.registrySecret === undefined ? undefined : {
    volume: { name: "docker-config", secret: { secretName: config.registrySecret, items: [{ key: ".dockerconfigjson", path: "config.json" }] } },
    mount: { name: "docker-config", mountPath: "/kaniko/.docker", readOnly: true },
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: config.cicdNamespace, labels },
    spec: {
      backoffLimit: 0, // retries are ours: counted per commit, bounded by MAX_RETRIES
      activeDeadlineSeconds: config.buildTimeoutSeconds,
      ttlSecondsAfterFinished: BUILD_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [{
            name: "kaniko",
            image: config.kanikoImage,
            args,
            env,
            terminationMessagePath: "/dev/termination-log",
            // On failure the digest file is empty, and the kubelet copies the log's tail instead: Kaniko's
            // own error line reaches the Job's pod status without a log read.
            terminationMessagePolicy: "FallbackToLogsOnError",
            // Kaniko runs as root to unpack layers (Pod Security `baseline`), never privileged. Privilege
            // escalation stays allowed: RUN steps of users' Dockerfiles may call setuid tools.
            securityContext: { privileged: false, seccompProfile: { type: "RuntimeDefault" } },
            resources: config.buildResources,
            volumeMounts: dockerConfig ? [dockerConfig.mount] : [],
          }],
          volumes: dockerConfig ? [dockerConfig.volume] : [],
        },
      },
    },
  };
}
