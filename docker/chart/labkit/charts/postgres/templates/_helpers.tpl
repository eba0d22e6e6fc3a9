{{/* Named templates of the postgres subchart, prefixed "postgres." so they never collide with the parent's "labkit.". */}}

{{/*
"<release>-postgres", cut to 52 characters (not 63): the StatefulSet controller labels each pod with
controller-revision-hash "<name>-<10-character hash>", a label value that must fit in 63. The parent chart's
"labkit.postgresHost" repeats this rule to build the services' URL; keep the two the same.
*/}}
{{- define "postgres.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The headless Service the StatefulSet names its pod's DNS record with: "<fullname>-hl". */}}
{{- define "postgres.headlessName" -}}
{{- printf "%s-hl" (include "postgres.fullname" .) }}
{{- end }}

{{/* The Secret holding the password (key `password`): the existing one when given, else the chart's. */}}
{{- define "postgres.secretName" -}}
{{- default (include "postgres.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* "repository:tag", the tag defaulting to the subchart's appVersion. */}}
{{- define "postgres.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on every object of the subchart. */}}
{{- define "postgres.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "postgres.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: labkit
app.kubernetes.io/component: database
{{- end }}

{{/* The labels the Services select the server's pod by. */}}
{{- define "postgres.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
