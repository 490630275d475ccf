/** The sample application the scenarios deploy: a Dockerfile and a chart in one repository. */
export const APP_FILES: Record<string, string> = {
  "Dockerfile": "FROM scratch\nCOPY app.txt /app.txt\n",
  "app.txt": "version 1\n",
  "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
  "chart/values.yaml": "image:\n  repository: example.invalid/app\n  tag: latest\nneverReady: false\n",
  "chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
        {{- if .Values.neverReady }}
        e2e.ci-runner.dev/never-ready: "true"
        {{- end }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
  "chart/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-info
data:
  tag: {{ .Values.image.tag | quote }}
`,
};

/** busybox httpd serving /www: the sample app's process. */
export const SERVE = '["httpd", "-f", "-p", "8080", "-h", "/www"]';

/**
 * The sample app's Dockerfile on the real node: the page is the REVISION build argument (the
 * commit), `steps` run before it is written, and `cmd` is the container's command.
 */
export function realDockerfile(baseImage: string, steps = "", cmd = SERVE): string {
  return `FROM ${baseImage}\nARG REVISION\n${steps}RUN echo $REVISION > /www/index.html\nCMD ${cmd}\n`;
}

const READY_ON_PAGE = `          ports: [{containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /, port: 8080}
            periodSeconds: 1
`;

/** The sample chart's Deployment; `container` ends its one container (ports, probes). */
export function realDeployment(container = READY_ON_PAGE): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      # busybox httpd as PID 1 ignores SIGTERM: without this every rollout waits 30 s per old pod
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
${container}`;
}

/**
 * The sample application on the real node: Kaniko builds it on a busybox base, and its page is the
 * commit it was built from, so a test can read from the running pod which build it got.
 */
export function realAppFiles(baseImage: string): Record<string, string> {
  return {
    "Dockerfile": realDockerfile(baseImage),
    "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    "chart/values.yaml": "image:\n  repository: example.invalid/app\n  tag: latest\n",
    "chart/templates/deployment.yaml": realDeployment(),
  };
}

/** A chart template for an Ingress to the release's Service: a kind the sample charts lack. */
export function ingressTemplate(port: number): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
spec:
  defaultBackend:
    service:
      name: {{ .Release.Name }}
      port:
        number: ${port}
`;
}
