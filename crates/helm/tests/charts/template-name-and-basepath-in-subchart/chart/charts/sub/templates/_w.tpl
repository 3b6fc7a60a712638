{{- define "sub.where" -}}{{ .Template.Name }}|{{ .Template.BasePath }}{{- end -}}
