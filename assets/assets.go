// Package assets holds Deputy's embedded static files: the OpenAPI description of
// the HTTP API and, later, the message templates and icons.
package assets

import _ "embed"

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 description of Deputy's HTTP API (openapi.yaml),
// as served at GET /openapi.yaml. The caller gets its own copy and may modify it.
func OpenAPI() []byte {
	return append([]byte(nil), openAPI...)
}
