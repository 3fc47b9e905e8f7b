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

// TestNewKeepsStoreToOneMode: the first service that serves a store marks it
// with its mode, for good; a service of the other mode refuses it, unless it
// is Offline (operator commands), which marks nothing.
func TestNewKeepsStoreToOneMode(t *testing.T) {
	for _, c := range []struct {
		name          string
		first, second core.Config
		refusal       error
	}{
		{"sandbox then production", core.Config{Sandbox: true}, core.Config{}, core.ErrSandboxStore},
		{"production then sandbox", core.Config{}, core.Config{Sandbox: true}, core.ErrProductionStore},
	} {
		t.Run(c.name, func(t *testing.T) {
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

			require.NoError(t, open(core.Config{Offline: true}), "offline marks nothing")
			require.NoError(t, open(c.first))
			require.NoError(t, open(c.first), "again")
			require.ErrorIs(t, open(c.second), c.refusal)
			require.NoError(t, open(core.Config{Offline: true}), "operator commands still open it")
			require.ErrorIs(t, open(c.second), c.refusal, "the mark stays")
		})
	}
}
