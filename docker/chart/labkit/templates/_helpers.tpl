{{/*
Named templates of the labkit chart. Every name starts with "labkit." because template names are global: a
subchart's "fullname" would otherwise overwrite ours (the lab subchart uses "lab.").
Files whose names start with "_" render no object; they only define templates.
*/}}

{{/* The chart name, or nameOverride; cut to 63 characters, the limit of a DNS label. */}}
{{- define "labkit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or fullnameOverride; the release name alone when it already contains the chart name. */}}
{{- define "labkit.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "labkit-0.1.0": chart name and version, as the helm.sh/chart label wants them. */}}
{{- define "labkit.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object: the recommended app.kubernetes.io set. */}}
{{- define "labkit.labels" -}}
helm.sh/chart: {{ include "labkit.chart" . }}
{{ include "labkit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: labkit
{{- end }}

{{/* The labels a selector matches on: name and instance, never the version (selectors are immutable). */}}
{{- define "labkit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "labkit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The templates below render one of the three services. They take a dict, built with
(dict "root" $ "name" "order" "service" .Values.services.order), because inside `range` the dot is the item.
*/}}

{{/*
"<fullname>-<suffix>" within 63 characters, the suffix kept whole: the fullname is cut instead, so a long release
name never drops or merges suffixes (a Job's name must fit in the label Kubernetes puts on its pods). Takes
(dict "root" $ "suffix" "wait-healthy").
*/}}
{{- define "labkit.suffixedName" -}}
{{- $room := sub 62 (len .suffix) | int }}
{{- printf "%s-%s" (include "labkit.fullname" .root | trunc $room | trimSuffix "-") .suffix }}
{{- end }}

{{/* "<fullname>-order": the name of the service's Deployment, Service and claim. */}}
{{- define "labkit.componentName" -}}
{{- include "labkit.suffixedName" (dict "root" .root "suffix" .name) }}
{{- end }}

{{/* Labels of one service's objects: the common set plus the component. */}}
{{- define "labkit.componentLabels" -}}
{{ include "labkit.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The selector of one service's pods. */}}
{{- define "labkit.componentSelectorLabels" -}}
{{ include "labkit.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The service's replica count: its own, or the top-level default. */}}
{{- define "labkit.replicas" -}}
{{- if kindIs "invalid" .service.replicaCount }}
{{- .root.Values.replicaCount }}
{{- else }}
{{- .service.replicaCount }}
{{- end }}
{{- end }}

{{/* The claim holding the service's database: the existing one when given, else the one the chart creates. */}}
{{- define "labkit.claimName" -}}
{{- default (include "labkit.componentName" .) .service.persistence.existingClaim }}
{{- end }}

{{/* "repository:tag", the tag defaulting to the chart's appVersion. */}}
{{- define "labkit.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The in-cluster URL of a service: http://<fullname>-<name>:<port>. Takes (dict "root" $ "name" "order"). */}}
{{- define "labkit.serviceURL" -}}
{{- printf "http://%s:%d" (include "labkit.componentName" .) (int .root.Values.service.port) }}
{{- end }}

{{/*
The postgres subchart's Service and Secret as the services see them. A parent template cannot call the subchart's
"postgres.fullname" (it would read the parent's .Chart), so this repeats its rule: "<release>-postgres" cut to 52
characters. tests/test_charts_postgres.py holds the two to the same name, long release names included.
*/}}
{{- define "labkit.postgresHost" -}}
{{- printf "%s-postgres" .Release.Name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The Secret with the server's password (key `password`): postgres.auth.existingSecret, else the subchart's. */}}
{{- define "labkit.postgresSecret" -}}
{{- default (include "labkit.postgresHost" .) .Values.postgres.auth.existingSecret }}
{{- end }}

{{/*
postgresql://<user>@<host>:<port>/<database>, without the password: the services get it as PGPASSWORD, which libpq
(psycopg, ADBC) reads. A password inside the URL would have to come from the Secret through `$(VAR)` expansion,
show up in the URL wherever it is printed, and break on characters a URL must escape.
*/}}
{{- define "labkit.postgresURL" -}}
{{- $auth := .Values.postgres.auth }}
{{- printf "postgresql://%s@%s:%d/%s" $auth.username (include "labkit.postgresHost" .) (int .Values.postgres.service.port) $auth.database }}
{{- end }}

{{/*
The nats subchart's client Service as the services see it, repeating the subchart's "nats.fullname" rule as
labkit.postgresHost does: "<release>-nats" cut to 52 characters. tests/test_charts_nats.py holds the two to the same
name. The URL is what labkit's JetStream client reads from LABKIT_NATS_URL.
*/}}
{{- define "labkit.natsHost" -}}
{{- printf "%s-nats" .Release.Name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "labkit.natsURL" -}}
{{- printf "nats://%s:%d" (include "labkit.natsHost" .) (int .Values.nats.service.port) }}
{{- end }}

{{/*
A Python script: GET each URL of its arguments until it answers 200; exit non-zero past the deadline (seconds).
The post-install hook and the `helm test` Pod run it with the services image's own python3: no extra image.
*/}}
{{- define "labkit.probeScript" -}}
import sys, time, urllib.request
deadline = time.time() + float(sys.argv[1])
for url in sys.argv[2:]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                print(answer.status, url, flush=True)
                break
        except OSError as exc:
            if time.time() > deadline:
                sys.exit(f"{url} did not answer 200 in time: {exc}")
            time.sleep(2)
{{- end }}

{{/*
Fail the render with a clear message when a service has several pods on one database volume: a DuckDB file has one
writer, so extra pods would fight over it. `fail` stops `helm template`, `lint` and `install` alike.
*/}}
{{- define "labkit.checkReplicas" -}}
{{- $replicas := int (include "labkit.replicas" .) }}
{{- if and (gt $replicas 1) .service.persistence.enabled }}
{{- fail (printf "services.%s has %d replicas on one database volume, but a DuckDB file has a single writer: keep replicaCount at 1, or set services.%s.persistence.enabled=false to give each pod its own emptyDir" .name $replicas .name) }}
{{- end }}
{{- end }}

{{/*
How events travel between the services: "http" or "nats". The broker transport needs the broker: `fail` says so
when eventTransport is nats and the nats subchart is off, rather than rendering services that wait for no server.
*/}}
{{- define "labkit.eventTransport" -}}
{{- $transport := .Values.eventTransport | default "http" -}}
{{- if and (eq $transport "nats") (not .Values.nats.enabled) -}}
{{- fail "eventTransport is nats but nats.enabled is false: set nats.enabled=true, so the chart installs the broker the services publish to" -}}
{{- end -}}
{{- $transport -}}
{{- end }}
