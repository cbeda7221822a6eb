{{/*
Names and labels shared by every template. Names are truncated to 63 characters
because some Kubernetes name fields are limited to a DNS label.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "forestall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified app name: fullnameOverride, else <release>-<chart>, or just the
release name when it already contains the chart name ("forestall" stays "forestall").
*/}}
{{- define "forestall.fullname" -}}
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

{{/* chart-version, as used by the helm.sh/chart label. */}}
{{- define "forestall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels. They are immutable on a Deployment, so they hold only what never
changes for a release.
*/}}
{{- define "forestall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "forestall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Labels on every object the chart renders (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */}}
{{- define "forestall.labels" -}}
helm.sh/chart: {{ include "forestall.chart" . }}
{{ include "forestall.selectorLabels" . }}
app.kubernetes.io/version: {{ include "forestall.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: forestall
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The ServiceAccount the controller runs as. */}}
{{- define "forestall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "forestall.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image tag: image.tag, else the chart's appVersion. */}}
{{- define "forestall.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* The image reference; a digest pins the image and wins over the tag. */}}
{{- define "forestall.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "forestall.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. They fail rendering with a
message that names the values to change.
*/}}
{{- define "forestall.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 requires leaderElection.enabled=true: without a leader every replica would reconcile and fight over the same objects" }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail "metrics.port and health.port must differ: the controller binds both" }}
{{- end }}
{{- if .Values.git.webhook.enabled }}
{{- if not .Values.git.webhook.secretName }}
{{- fail "git.webhook.enabled requires git.webhook.secretName: a Secret with the webhook's shared secret (unsigned webhooks are refused)" }}
{{- end }}
{{- if or (eq (int .Values.git.webhook.port) (int .Values.metrics.port)) (eq (int .Values.git.webhook.port) (int .Values.health.port)) }}
{{- fail "git.webhook.port must differ from metrics.port and health.port" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A Role and its RoleBinding to the controller's ServiceAccount in one namespace other
than (or besides) the release namespace: the least-privilege way to grant a permission
the controller needs in just that namespace. Arguments: root (the chart's .), suffix
(of the name), namespace, rules (a list of PolicyRules).
*/}}
{{- define "forestall.namespacedRole" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "forestall.fullname" .root }}-{{ .suffix }}
  namespace: {{ .namespace }}
  labels:
    {{- include "forestall.labels" .root | nindent 4 }}
rules:
  {{- toYaml .rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "forestall.fullname" .root }}-{{ .suffix }}
  namespace: {{ .namespace }}
  labels:
    {{- include "forestall.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "forestall.fullname" .root }}-{{ .suffix }}
subjects:
  - kind: ServiceAccount
    name: {{ include "forestall.serviceAccountName" .root }}
    namespace: {{ .root.Release.Namespace }}
{{- end }}
