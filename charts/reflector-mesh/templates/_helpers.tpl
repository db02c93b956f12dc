{{/* Names, labels and small decisions shared by the templates. */}}

{{- define "reflector-mesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: objects of two releases in one namespace never collide. */}}
{{- define "reflector-mesh.fullname" -}}
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

{{- define "reflector-mesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "reflector-mesh.labels" -}}
helm.sh/chart: {{ include "reflector-mesh.chart" . }}
{{ include "reflector-mesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: reflector-mesh
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods; never change them in an upgrade (selectors are immutable). */}}
{{- define "reflector-mesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "reflector-mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "reflector-mesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "reflector-mesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "reflector-mesh.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the operator runs with leader election: forced by the value, or auto with replicas > 1. */}}
{{- define "reflector-mesh.leaderElection" -}}
{{- $enabled := .Values.operator.leaderElection.enabled }}
{{- if eq (toString $enabled) "auto" }}true
{{- else }}
{{- if $enabled }}true{{ else }}false{{ end }}
{{- end }}
{{- end }}

{{- define "reflector-mesh.leaseNamespace" -}}
{{- default .Release.Namespace .Values.operator.leaderElection.namespace }}
{{- end }}

{{/*
The operator's RBAC rules, read from config/rbac/role.yaml (files/rbac.yaml is a symlink to it), which
the operator generates from its code (operator/rbac.ts): the chart never keeps a copy of the rules.
Called with a dict { "root": $, "name": "reflector-mesh-operator" | "reflector-mesh-operator-cluster" |
"reflector-mesh-operator-leader-election" }; returns the rules of the document of that name as YAML.
*/}}
{{- define "reflector-mesh.rbacRules" -}}
{{- $found := false }}
{{- range $doc := splitList "\n---\n" (.root.Files.Get "files/rbac.yaml") }}
{{- $object := fromYaml $doc }}
{{- if and (not $found) (eq (toString $object.metadata.name) $.name) }}
{{- $found = true }}
{{- toYaml $object.rules }}
{{- end }}
{{- end }}
{{- if not $found }}
{{- fail (printf "files/rbac.yaml (config/rbac/role.yaml) has no document named %s: run `npm run generate:manifests`" .name) }}
{{- end }}
{{- end }}

{{/* The reflectors' PriorityClass: reflectorPriorityClass.name, or <fullname>-reflector. */}}
{{- define "reflector-mesh.reflectorPriorityClassName" -}}
{{- default (printf "%s-reflector" (include "reflector-mesh.fullname" .)) .Values.reflectorPriorityClass.name }}
{{- end }}

{{/* Labels of `helm test` pods: the standard ones without the operator's selector labels, so neither the
Deployment nor the metrics Service ever selects a test pod. */}}
{{- define "reflector-mesh.testLabels" -}}
helm.sh/chart: {{ include "reflector-mesh.chart" . }}
app.kubernetes.io/name: {{ include "reflector-mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: reflector-mesh
{{- end }}
