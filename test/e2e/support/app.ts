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
