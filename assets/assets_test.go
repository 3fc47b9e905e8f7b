package assets

import (
	"bytes"
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

func TestOpenAPILoadsAndValidates(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.NotNil(t, doc.Paths.Find("/multi/login_with_password"))
}

func TestOpenAPIReturnsACopy(t *testing.T) {
	first := OpenAPI()
	first[0] = 'X'
	if got := OpenAPI(); !bytes.HasPrefix(got, []byte("openapi: 3.1.0")) {
		t.Fatalf("OpenAPI() starts with %q after a caller changed its copy, want %q", got[:14], "openapi: 3.1.0")
	}
}
