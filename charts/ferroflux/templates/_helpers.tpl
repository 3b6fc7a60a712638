{{/*
The chart name, or nameOverride.
*/}}
{{- define "ferroflux.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of the ServiceAccount and RBAC names: fullnameOverride, else the release name when it
already contains the chart name, else <release>-<chart>.
*/}}
{{- define "ferroflux.fullname" -}}
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

{{/*
The helm.sh/chart label value.
*/}}
{{- define "ferroflux.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A controller's ServiceAccount and RBAC name, e.g. ferroflux-source-controller.
Call with (dict "root" $ "component" "source-controller").
*/}}
{{- define "ferroflux.componentName" -}}
{{- printf "%s-%s" (include "ferroflux.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select a controller's pods. Call with (dict "root" $ "component" "...").
*/}}
{{- define "ferroflux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferroflux.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Every object's labels. Call with (dict "root" $ "component" "...").
app.kubernetes.io/part-of: ferroflux is the label the NetworkPolicy lets fetch artifacts.
*/}}
{{- define "ferroflux.labels" -}}
helm.sh/chart: {{ include "ferroflux.chart" .root }}
{{ include "ferroflux.selectorLabels" . }}
app.kubernetes.io/part-of: ferroflux
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/*
The image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "ferroflux.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The base URL the source-, kustomize- and helm-controller post events to: the notification-controller's
Service in the release namespace.
*/}}
{{- define "ferroflux.eventsAddr" -}}
{{- printf "http://notification-controller.%s.svc.%s./" .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
The host the source-controller puts in artifact URLs: its Service (port 80).
*/}}
{{- define "ferroflux.storageAdvAddr" -}}
{{- printf "source-controller.%s.svc.%s." .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
The in-cluster address of the source-watcher's artifact server (the source-watcher Service).
*/}}
{{- define "ferroflux.watcherAdvAddr" -}}
{{- printf "source-watcher.%s.svc.%s." .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
The flags every controller gets: listeners for metrics and health, the namespaces it watches and
the log settings.
*/}}
{{- define "ferroflux.commonArgs" -}}
{{- if not (has .Values.logEncoding (list "json" "console")) }}
{{- fail (printf "logEncoding must be json or console, not %q" .Values.logEncoding) }}
{{- end }}
- --metrics-addr=:8080
- --health-addr=:9440
- --watch-all-namespaces={{ .Values.watchAllNamespaces }}
- {{ printf "--log-level=%s" .Values.logLevel | quote }}
- {{ printf "--log-encoding=%s" .Values.logEncoding | quote }}
{{- end }}

{{/*
A controller's Deployment. Call with a dict:
  root       the top-level context ($)
  component  e.g. "source-controller" (the binary is /usr/local/bin/ferroflux-<component>)
  values     the controller's values (.Values.sourceController, ...)
  args       the controller-specific flags (a list), before the common ones and extraArgs
  ports      extra container ports besides http-prom and healthz: a list of dicts (name, port)
  volumes    extra writable emptyDirs besides /tmp: a list of dicts (name, mountPath, sizeLimit)
*/}}
{{- define "ferroflux.deployment" -}}
{{- $root := .root -}}
{{- $ctx := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "ferroflux.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ .values.replicas }}
  selector:
    matchLabels:
      {{- include "ferroflux.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ferroflux.labels" $ctx | nindent 8 }}
    spec:
      serviceAccountName: {{ include "ferroflux.componentName" $ctx }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: manager
          image: {{ include "ferroflux.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            - /usr/local/bin/ferroflux-{{ .component }}
          args:
            {{- with .args }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- include "ferroflux.commonArgs" $root | trim | nindent 12 }}
            {{- with .values.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            - name: RUNTIME_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
            - name: http-prom
              containerPort: 8080
              protocol: TCP
            - name: healthz
              containerPort: 9440
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: healthz
            initialDelaySeconds: 5
            periodSeconds: 10
          readinessProbe:
            httpGet:
              path: /readyz
              port: healthz
            periodSeconds: 5
          {{- with .values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- range .volumes }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- range .volumes }}
        - name: {{ .name }}
          {{- if .sizeLimit }}
          emptyDir:
            sizeLimit: {{ .sizeLimit }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
      {{- with .values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/*
The ServiceAccount of a controller. Call with (dict "root" $ "component" "...").
*/}}
{{- define "ferroflux.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "ferroflux.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ferroflux.labels" . | nindent 4 }}
{{- end }}

{{/*
The Role and RoleBinding that let a controller hold its leader-election Lease in the release
namespace. Call with (dict "root" $ "component" "..."); the Lease is <component>-leader-election,
as the binaries name it. Creating cannot be limited to one name; reading and renewing is.
*/}}
{{- define "ferroflux.leaderElectionRbac" -}}
{{- $name := printf "%s-leader-election" (include "ferroflux.componentName" .) | trunc 63 | trimSuffix "-" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ferroflux.labels" . | nindent 4 }}
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["create"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    resourceNames: ["{{ .component }}-leader-election"]
    verbs: ["get", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ferroflux.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "ferroflux.componentName" . }}
    namespace: {{ .root.Release.Namespace }}
{{- end }}
