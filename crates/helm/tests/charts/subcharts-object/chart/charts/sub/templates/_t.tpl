{{- define "sub.tpl" -}}{{ .Chart.Name }}/{{ .Values.x }}{{- end -}}
