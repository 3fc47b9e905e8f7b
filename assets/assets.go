// Package assets holds Deputy's embedded static files: the OpenAPI description
// of the HTTP API, the email templates and the browser capture component.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed openapi.yaml
var openAPI []byte

//go:embed templates
var templates embed.FS

//go:embed secure
var secure embed.FS

// OpenAPI returns the OpenAPI 3.1 description of Deputy's HTTP API (openapi.yaml),
// as served at GET /openapi.yaml. The caller gets its own copy and may modify it.
func OpenAPI() []byte {
	return append([]byte(nil), openAPI...)
}

// Templates holds the email templates: NAME.txt (first line the subject, then
// the plain-text body) and NAME.html (the HTML body), for text/template and
// html/template respectively.
func Templates() fs.FS {
	sub, err := fs.Sub(templates, "templates")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Secure holds the browser capture component served under /secure/: the
// embedder's script (deputy-secure.js), the capture page's template
// (capture.html) and its script and style sheet (capture.js, capture.css).
func Secure() fs.FS {
	sub, err := fs.Sub(secure, "secure")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
