{{/* Named templates of the lab subchart, prefixed "lab." so they never collide with the parent's "labkit.". */}}

{{/* "<release>-lab". */}}
{{- define "lab.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the subchart. */}}
{{- define "lab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "lab.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: labkit
{{- end }}

{{/* The labels the Service selects the JupyterLab pod by. */}}
{{- define "lab.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
