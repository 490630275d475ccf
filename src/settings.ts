/**
 * The one table of settings: environment variable, flag, default and the form expected.
 * config.ts validates it, cli.ts turns it into flags, and the README table is checked against it.
 */

export interface Setting {
  readonly key: SettingKey;
  readonly env: string;
  /** Absent for secrets: a token never travels in argv. */
  readonly flag?: string;
  readonly fallback?: string;
  readonly secret?: boolean;
  /** What form is expected, shown in errors and in --help. */
  readonly form: string;
}

export type SettingKey =
  | "repo" | "branch" | "image" | "chartPath" | "release" | "cicdNamespace" | "deployNamespace"
  | "interval" | "maxRetries" | "gitToken" | "gitTokenSecret" | "registrySecret" | "registryInsecure"
  | "githubApiUrl" | "gitUrl" | "kanikoImage" | "dockerfile" | "buildContext"
  | "buildArgs" | "snapshotMode" | "buildCache" | "pushRetry"
  | "buildCpuRequest" | "buildMemoryRequest" | "buildCpuLimit" | "buildMemoryLimit"
  | "imageRepositoryKey" | "imageTagKey" | "valuesFiles" | "helmTimeout" | "buildTimeout"
  | "stateConfigMap" | "leaseDuration" | "kubeconfig" | "context" | "helmBin" | "logFormat" | "logLevel"
  | "githubAppId" | "githubAppPrivateKey" | "githubDeployments" | "githubEnvironment" | "githubEnvironmentUrl"
  | "kubeEvents" | "webhookUrl" | "webhookFormat" | "pushgatewayUrl"
  | "skipMarkers" | "skipAuthors" | "buildPaths" | "requiredChecks" | "requireApproval" | "freezeWindows";

export const SETTINGS: readonly Setting[] = [
  { key: "repo", env: "REPO", flag: "--repo", form: "GitHub repository as owner/name, e.g. acme/shop" },
  { key: "branch", env: "BRANCH", flag: "--branch", fallback: "main", form: "branch name to follow" },
  { key: "image", env: "IMAGE", flag: "--image", form: "image repository without tag, e.g. ghcr.io/acme/shop" },
  { key: "chartPath", env: "CHART_PATH", flag: "--chart-path", form: "relative path of the Helm chart in the repository, e.g. deploy/chart" },
  { key: "release", env: "RELEASE", flag: "--release", form: "Helm release name: lowercase letters, digits and '-', at most 53 characters" },
  { key: "cicdNamespace", env: "CICD_NS", flag: "--cicd-ns", fallback: "cicd", form: "namespace for build Jobs and the state ConfigMap" },
  { key: "deployNamespace", env: "DEPLOY_NS", flag: "--deploy-ns", fallback: "default", form: "namespace the release is deployed to (created if missing)" },
  { key: "interval", env: "INTERVAL", flag: "--interval", fallback: "300", form: "seconds between passes without --once: a number, or 30s/5m/1h, at least 5s" },
  { key: "maxRetries", env: "MAX_RETRIES", flag: "--max-retries", fallback: "3", form: "attempts per commit before it is set aside: an integer from 1 to 100" },
  { key: "gitToken", env: "GIT_TOKEN", secret: true, form: "GitHub token for a private repository (environment only, never a flag)" },
  { key: "gitTokenSecret", env: "GIT_TOKEN_SECRET", flag: "--git-token-secret", form: "Secret in CICD_NS with key 'token' that the build pod reads the token from" },
  { key: "registrySecret", env: "REGISTRY_SECRET", flag: "--registry-secret", form: "kubernetes.io/dockerconfigjson Secret in CICD_NS used to push and to check for an existing image" },
  { key: "registryInsecure", env: "REGISTRY_INSECURE", flag: "--registry-insecure", fallback: "false", form: "true to reach the registry over plain HTTP (in-cluster registries without TLS)" },
  { key: "githubApiUrl", env: "GITHUB_API_URL", flag: "--github-api-url", fallback: "https://api.github.com", form: "GitHub REST API base URL; GitHub Enterprise: https://HOST/api/v3" },
  { key: "gitUrl", env: "GIT_URL", flag: "--git-url", form: "clone URL of the repository (default https://github.com/REPO.git)" },
  { key: "kanikoImage", env: "KANIKO_IMAGE", flag: "--kaniko-image", fallback: "ghcr.io/osscontainertools/kaniko:v1.28.5", form: "Kaniko executor image (default: the maintained osscontainertools fork, pinned)" },
  { key: "dockerfile", env: "DOCKERFILE", flag: "--dockerfile", fallback: "Dockerfile", form: "Dockerfile path relative to the build context" },
  { key: "buildContext", env: "BUILD_CONTEXT", flag: "--build-context", fallback: ".", form: "build context directory relative to the repository root" },
  { key: "buildArgs", env: "BUILD_ARGS", flag: "--build-args", fallback: "REVISION={sha}", form: "comma-separated NAME=VALUE build arguments; {sha} and {branch} are replaced; never secrets (they are visible in the Job)" },
  { key: "snapshotMode", env: "SNAPSHOT_MODE", flag: "--snapshot-mode", fallback: "full", form: "Kaniko's snapshot mode: full (file contents: correct images), redo or time (faster, may miss changes)" },
  { key: "buildCache", env: "BUILD_CACHE", flag: "--build-cache", fallback: "true", form: "true to reuse and push layer cache in IMAGE/cache, false to build from scratch every time" },
  { key: "pushRetry", env: "PUSH_RETRY", flag: "--push-retry", fallback: "2", form: "times Kaniko retries a failed push: an integer from 0 to 10" },
  { key: "buildCpuRequest", env: "BUILD_CPU_REQUEST", flag: "--build-cpu-request", fallback: "250m", form: "CPU the build pod requests, e.g. 250m or 1" },
  { key: "buildMemoryRequest", env: "BUILD_MEMORY_REQUEST", flag: "--build-memory-request", fallback: "512Mi", form: "memory the build pod requests, e.g. 512Mi or 2Gi" },
  { key: "buildCpuLimit", env: "BUILD_CPU_LIMIT", flag: "--build-cpu-limit", form: "CPU limit of the build pod (none by default: a limit throttles builds)" },
  { key: "buildMemoryLimit", env: "BUILD_MEMORY_LIMIT", flag: "--build-memory-limit", fallback: "2Gi", form: "memory limit of the build pod; a build that needs more is killed and reported as out of memory" },
  { key: "imageRepositoryKey", env: "IMAGE_REPOSITORY_KEY", flag: "--image-repository-key", fallback: "image.repository", form: "Helm values key that receives IMAGE" },
  { key: "imageTagKey", env: "IMAGE_TAG_KEY", flag: "--image-tag-key", fallback: "image.tag", form: "Helm values key that receives the commit SHA" },
  { key: "valuesFiles", env: "VALUES_FILES", flag: "--values", fallback: "", form: "comma-separated values files, relative to the repository root" },
  { key: "helmTimeout", env: "HELM_TIMEOUT", flag: "--helm-timeout", fallback: "5m", form: "how long helm waits for the release: seconds, or 30s/5m/1h" },
  { key: "buildTimeout", env: "BUILD_TIMEOUT", flag: "--build-timeout", fallback: "20m", form: "deadline of the build Job: seconds, or 30s/5m/1h" },
  { key: "stateConfigMap", env: "STATE_CONFIGMAP", flag: "--state-configmap", form: "ConfigMap in CICD_NS that holds the state (default ci-runner-RELEASE)" },
  { key: "leaseDuration", env: "LEASE_DURATION", flag: "--lease-duration", fallback: "45s", form: "how long a run's lease lasts unless renewed (every quarter of it; a run that cannot renew stops acting at three quarters); the tick after a killed run waits this long: seconds, or 30s/2m" },
  { key: "kubeconfig", env: "KUBECONFIG", flag: "--kubeconfig", form: "kubeconfig file, or several separated by ':' and merged like kubectl does; in a pod the ServiceAccount is used when unset" },
  { key: "context", env: "KUBE_CONTEXT", flag: "--context", form: "kubeconfig context to use" },
  { key: "helmBin", env: "HELM_BIN", flag: "--helm", fallback: "helm", form: "helm executable (Helm 3 or 4)" },
  { key: "logFormat", env: "LOG_FORMAT", flag: "--log-format", fallback: "auto", form: "json, pretty, or auto (pretty on a terminal)" },
  { key: "logLevel", env: "LOG_LEVEL", flag: "--log-level", fallback: "info", form: "debug, info, warn or error" },
  // Gates: what is worth building and deploying; each is off (and costs nothing) unless configured.
  { key: "skipMarkers", env: "SKIP_MARKERS", flag: "--skip-markers", fallback: "false", form: "true to record a head whose message carries [skip ci], [ci skip] or [skip deploy] as seen, without building it (one more GitHub request per new head)" },
  { key: "skipAuthors", env: "SKIP_AUTHORS", flag: "--skip-authors", form: "comma-separated commit author names or emails, e.g. renovate[bot], whose head commits are recorded as seen, not built" },
  { key: "buildPaths", env: "BUILD_PATHS", flag: "--build-paths", form: "comma-separated files or directories whose change needs a new image; a change to CHART_PATH or VALUES_FILES alone redeploys the image already running, any other is recorded as seen (unset: every commit is built)" },
  { key: "requiredChecks", env: "REQUIRED_CHECKS", flag: "--required-checks", form: "all, or comma-separated names of check runs and commit statuses that must be green before a head is built; a red one sets it aside (unset: no wait)" },
  { key: "requireApproval", env: "REQUIRE_APPROVAL", flag: "--require-approval", fallback: "false", form: "true to hold each new head until `ci-runner approve <sha>` (or the annotation ci-runner.dev/approved-sha) approves it" },
  { key: "freezeWindows", env: "FREEZE_WINDOWS", flag: "--freeze-windows", form: "deploy freeze windows separated by ';': five cron fields, a duration (m/h/d) and an IANA time zone (default UTC), e.g. '0 17 * * FRI 63h Europe/Berlin'" },
  // Reporting and GitHub App credentials: each receiver is off unless configured.
  { key: "githubAppId", env: "GITHUB_APP_ID", flag: "--github-app-id", form: "GitHub App id: with GITHUB_APP_PRIVATE_KEY, each run mints an installation token for REPO instead of using GIT_TOKEN" },
  { key: "githubAppPrivateKey", env: "GITHUB_APP_PRIVATE_KEY", secret: true, form: "the GitHub App's private key, PEM (environment only, from a Secret)" },
  { key: "githubDeployments", env: "GITHUB_DEPLOYMENTS", flag: "--github-deployments", fallback: "false", form: "true to record each attempt as a GitHub Deployment with statuses (a commit status when the token may not create deployments)" },
  { key: "githubEnvironment", env: "GITHUB_ENVIRONMENT", flag: "--github-environment", form: "GitHub environment of the deployments (default DEPLOY_NS/RELEASE)" },
  { key: "githubEnvironmentUrl", env: "GITHUB_ENVIRONMENT_URL", flag: "--github-environment-url", form: "http(s) URL of the running application, shown on a successful deployment" },
  { key: "kubeEvents", env: "KUBE_EVENTS", flag: "--kube-events", fallback: "false", form: "true to record each transition as a Kubernetes Event on the state ConfigMap" },
  { key: "webhookUrl", env: "WEBHOOK_URL", secret: true, form: "http(s) URL that receives a notification on deployed, failed, rolled back and set aside (environment only, from a Secret)" },
  { key: "webhookFormat", env: "WEBHOOK_FORMAT", flag: "--webhook-format", fallback: "json", form: "json (ci-runner's document) or slack (an incoming-webhook message)" },
  { key: "pushgatewayUrl", env: "PUSHGATEWAY_URL", flag: "--pushgateway-url", form: "Prometheus Pushgateway base URL, e.g. http://pushgateway.monitoring:9091; metrics are pushed per release" },
];

/** commander's camel-cased option name for a flag, e.g. --cicd-ns -> cicdNs. */
export function optionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
