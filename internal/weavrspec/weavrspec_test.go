package weavrspec_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/weavrspec"
)

// TestLoad finds and parses both of Weavr's descriptions: the operations
// Deputy serves and the webhooks it sends are there.
func TestLoad(t *testing.T) {
	multi := weavrspec.Load(t, weavrspec.Multi)
	require.NotNil(t, multi.Paths.Find("/login_with_password"))
	hooks := weavrspec.Load(t, weavrspec.Webhooks)
	require.Contains(t, hooks.Webhooks, "/login/watch")
}
