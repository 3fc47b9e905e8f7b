package core_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// TestNewRefusesSandboxStoreOutsideSandbox: a store a sandbox service has
// opened keeps the mark; a service outside sandbox refuses it unless it is
// Offline (operator commands), and a sandbox opens it again.
func TestNewRefusesSandboxStoreOutsideSandbox(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	outbox := core.NewOutbox(store, core.SystemClock{})
	open := func(cfg core.Config) error {
		cfg.Logger = slog.New(slog.DiscardHandler)
		_, err := core.New(ctx, cfg, store, core.Integrations{SMS: outbox, Email: outbox}, core.SystemClock{})
		return err
	}

	require.NoError(t, open(core.Config{}), "a store no sandbox has used")
	require.NoError(t, open(core.Config{Sandbox: true}))
	require.ErrorIs(t, open(core.Config{}), core.ErrSandboxStore)
	require.NoError(t, open(core.Config{Offline: true}))
	require.NoError(t, open(core.Config{Sandbox: true}), "the mark is set once")
	require.ErrorIs(t, open(core.Config{}), core.ErrSandboxStore, "and stays")
}
