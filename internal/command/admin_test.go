package command

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

func TestIsSandbox(t *testing.T) {
	for _, tt := range []struct {
		name       string
		notSandbox bool
		want       bool
	}{
		{"sandbox", false, true},
		{"production", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inst := testserver.Start(t, testserver.Options{NotSandbox: tt.notSandbox})
			c, err := client.New(inst.URL, inst.APIKey)
			require.NoError(t, err)
			assert.Equal(t, tt.want, isSandbox(context.Background(), c))
		})
	}
	nowhere, err := client.New("http://127.0.0.1:1", "key")
	require.NoError(t, err)
	assert.False(t, isSandbox(context.Background(), nowhere), "a server that cannot be reached is not taken for a sandbox")
}

func TestAdminNeedsServerAndKey(t *testing.T) {
	t.Setenv("DEPUTY_SERVER", "")
	t.Setenv("DEPUTY_KEY", "")
	err := Run(context.Background(), []string{"deputy", "admin"}, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--server")

	t.Setenv("DEPUTY_SERVER", "http://127.0.0.1:1")
	err = Run(context.Background(), []string{"deputy", "admin"}, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--key")
}
