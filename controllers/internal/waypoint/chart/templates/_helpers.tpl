{{/* Labels every rendered object carries, so the operator's cache sees only its own objects. */}}
{{- define "waypoint.labels" -}}
app.kubernetes.io/name: waypoint
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ambient-egress-operator
egress.ambient.io/egressgateway: {{ .Values.egressGateway | quote }}
{{- end -}}
{{/* The ConfigMap the Gateway's parametersRef names. */}}
{{- define "waypoint.parametersName" -}}
{{ .Values.gateway.name }}-waypoint-parameters
{{- end -}}
