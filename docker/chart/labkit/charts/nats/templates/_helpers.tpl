{{/* Named templates of the nats subchart, prefixed "nats." so they never collide with the parent's "labkit.". */}}

{{/*
"<release>-nats", cut to 52 characters (not 63): the StatefulSet controller labels each pod with
controller-revision-hash "<name>-<10-character hash>", a label value that must fit in 63. The parent chart's
"labkit.natsHost" repeats this rule to build the services' URL; keep the two the same.
*/}}
{{- define "nats.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The headless Service the StatefulSet names its pod's DNS record with: "<fullname>-hl". */}}
{{- define "nats.headlessName" -}}
{{- printf "%s-hl" (include "nats.fullname" .) }}
{{- end }}

{{/* "repository:tag", the tag defaulting to the subchart's appVersion. */}}
{{- define "nats.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on every object of the subchart. */}}
{{- define "nats.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "nats.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: labkit
app.kubernetes.io/component: message-broker
{{- end }}

{{/* The labels the Services select the server's pod by. */}}
{{- define "nats.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
