{{/*
Copyright the Cloister authors.
SPDX-License-Identifier: Apache-2.0
*/}}

{{/* Labels on every object the chart makes. */}}
{{- define "cloister.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: cloister
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cloister
{{- end }}

{{/* Selector labels of a component. Call with (dict "root" $ "component" "coordinator"). */}}
{{- define "cloister.selectorLabels" -}}
app.kubernetes.io/name: cloister
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Pod labels: the selector labels, then global.podLabels (which cannot replace a selector label). */}}
{{- define "cloister.podLabels" -}}
{{- $selector := include "cloister.selectorLabels" . | fromYaml -}}
{{- $labels := merge $selector (deepCopy (.root.Values.global.podLabels | default dict)) -}}
{{- $_ := set $labels "app.kubernetes.io/version" (.root.Chart.AppVersion | toString) -}}
{{- toYaml $labels -}}
{{- end }}

{{/* An image reference from a values block with repository, image, version and hash. */}}
{{- define "cloister.image" -}}
{{- $name := .image -}}
{{- if .repository -}}
{{- $name = printf "%s/%s" (trimSuffix "/" .repository) .image -}}
{{- end -}}
{{- if .hash -}}
{{- printf "%s@%s" $name .hash -}}
{{- else -}}
{{- printf "%s:%s" $name (toString .version) -}}
{{- end -}}
{{- end }}

{{/* host:port, with an IPv6 host in brackets. Call with (list host port). */}}
{{- define "cloister.hostPort" -}}
{{- $host := index . 0 | toString -}}
{{- $port := index . 1 | int -}}
{{- if and (contains ":" $host) (not (hasPrefix "[" $host)) -}}
{{- printf "[%s]:%d" $host $port -}}
{{- else -}}
{{- printf "%s:%d" $host $port -}}
{{- end -}}
{{- end }}

{{/* The Coordinator's certificate DNS names, comma-separated. */}}
{{- define "cloister.coordinator.dnsNames" -}}
{{- $ns := .Release.Namespace -}}
{{- $domain := .Values.marbleInjector.clusterDomain -}}
{{- $names := list "localhost" -}}
{{- range $service := list "coordinator-mesh-api" "coordinator-client-api" -}}
{{- $names = append $names $service -}}
{{- $names = append $names (printf "%s.%s" $service $ns) -}}
{{- $names = append $names (printf "%s.%s.svc.%s" $service $ns $domain) -}}
{{- end -}}
{{- range .Values.coordinator.hostname -}}
{{- $names = append $names . -}}
{{- end -}}
{{- $names | uniq | join "," -}}
{{- end }}

{{/* Whether a resource name is an SGX resource (left out of the Coordinator's limits in simulation). */}}
{{- define "cloister.isSGXResource" -}}
{{- $known := list "kubernetes.azure.com/sgx_epc_mem_in_MiB" "alibabacloud.com/sgx_epc_MiB" .root.Values.marbleInjector.resourceKey -}}
{{- if or (hasPrefix "sgx.intel.com/" .name) (has .name $known) -}}true{{- end -}}
{{- end }}

{{/* The Coordinator's command line after the image's entrypoint (the cloister binary). */}}
{{- define "cloister.coordinator.args" -}}
{{- $c := .Values.coordinator -}}
{{- $args := list "coordinator"
    "--client-address" (include "cloister.hostPort" (list $c.clientServerHost $c.clientServerPort))
    "--marble-address" (include "cloister.hostPort" (list $c.meshServerHost $c.meshServerPort)) -}}
{{- if $c.metrics.enabled -}}
{{- $args = concat $args (list "--metrics-address" (printf "0.0.0.0:%d" ($c.metrics.port | int))) -}}
{{- end -}}
{{- $args = concat $args (list
    "--data-directory" $c.sealDir
    "--dns-names" (include "cloister.coordinator.dnsNames" .)
    "--log-format" $c.logFormat
    "--log-level" (ternary "debug" "info" $c.debugLogging)
    "--pki-curve" $c.pkiCurve) -}}
{{- if $c.simulation -}}
{{- $args = concat $args (list "--simulation" "--simulation-state-directory" "/cloister/simulated-machine") -}}
{{- else if eq .Values.dcap.source "thim" -}}
{{- $args = concat $args (list "--thim" .Values.dcap.thimUrl) -}}
{{- else if eq .Values.dcap.source "pccs" -}}
{{- $args = concat $args (list "--pccs" .Values.dcap.pccsUrl) -}}
{{- else if eq .Values.dcap.source "pcs" -}}
{{- $args = concat $args (list "--pcs" .Values.dcap.pcsUrl) -}}
{{- else -}}
{{- fail (printf "dcap.source must be thim, pccs or pcs, not %q" (toString .Values.dcap.source)) -}}
{{- end -}}
{{- if $c.startupManifest -}}
{{- $args = concat $args (list "--manifest" "/etc/cloister/startup-manifest/manifest.json") -}}
{{- end -}}
{{- toYaml $args -}}
{{- end }}

{{/* The contents of sgx_default_qcnl.conf. */}}
{{- define "cloister.qcnlConfig" -}}
{{- if .Values.dcap.qcnlConfig -}}
{{- if hasKey (.Values.dcap.qcnlConfig | fromJson) "Error" -}}
{{- fail "dcap.qcnlConfig is not a JSON object: give the complete sgx_default_qcnl.conf, or leave it empty to generate it" -}}
{{- end -}}
{{- .Values.dcap.qcnlConfig -}}
{{- else -}}
{{- dict "pccs_url" .Values.dcap.pccsUrl "use_secure_cert" .Values.dcap.useSecureCert | toPrettyJson -}}
{{- end -}}
{{- end }}

{{/* The marble-injector's command line. */}}
{{- define "cloister.injector.args" -}}
{{- $m := .Values.marbleInjector -}}
{{- $args := list "injector"
    "--tls-cert" "/etc/cloister/webhook/tls.crt"
    "--tls-key" "/etc/cloister/webhook/tls.key"
    "--address" (printf "0.0.0.0:%d" ($m.port | int))
    "--coordinator-address" (printf "coordinator-mesh-api.%s:%d" .Release.Namespace (.Values.coordinator.meshServerPort | int))
    "--sgx-resource" $m.resourceKey
    "--cluster-domain" $m.clusterDomain
    "--coordinator-root-ca" "/etc/cloister/coordinator-root/root.pem"
    "--log-format" .Values.coordinator.logFormat
    "--log-level" (ternary "debug" "info" .Values.coordinator.debugLogging) -}}
{{- if .Values.coordinator.simulation -}}
{{- $args = concat $args (list "--simulation-machine-path" .Values.coordinator.simulationMachinePath) -}}
{{- end -}}
{{- toYaml $args -}}
{{- end }}
