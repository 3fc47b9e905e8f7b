package core_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// fullDisk is a store whose writes fail as boltstore's do on a full disk
// (ErrNoSpace wrapping ENOSPC) while full is set; reads still work.
type fullDisk struct {
	core.Store
	full   atomic.Bool
	writes atomic.Int64 // Updates that reached the store
}

func (d *fullDisk) Update(ctx context.Context, fn func(core.Tx) error) error {
	d.writes.Add(1)
	if d.full.Load() {
		return fmt.Errorf("%w: %w", core.ErrNoSpace, &fs.PathError{Op: "write", Path: "deputy.db", Err: syscall.ENOSPC})
	}
	return d.Store.Update(ctx, fn)
}

// TestFullDiskIsUnavailableUntilAWriteSucceeds: while the store is out of
// space writes fail with ErrUnavailable (503, Retry-After) and nothing is
// half-written, Ready fails, and both recover by themselves once space is
// freed; Ready tries a write at most once per UnavailableRetry, and only its
// write ends the state.
func TestFullDiskIsUnavailableUntilAWriteSucceeds(t *testing.T) {
	ctx := context.Background()
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { bolt.Close() })
	disk := &fullDisk{Store: bolt}
	clock := core.NewOffsetClock(nil)
	svc, err := core.New(ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		disk, core.Integrations{SMS: &recordingSMS{}, Email: &recordingEmail{}}, clock)
	require.NoError(t, err)
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "P"})
	require.NoError(t, err)
	require.NoError(t, svc.Ready(ctx))
	root := core.NewIdentity{Type: core.Consumer, Root: core.UserDetails{Name: "Ada", Surname: "L", Email: "ada@acme.test",
		Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900123"}}}

	disk.full.Store(true)
	_, _, err = svc.CreateIdentity(ctx, prog.Programme, root)
	require.ErrorIs(t, err, core.ErrUnavailable)
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, core.UnavailableRetry, ce.RetryAfter)
	assert.NotContains(t, ce.Message, "deputy.db", "the store's error stays in the log")

	before := disk.writes.Load()
	require.ErrorIs(t, svc.Ready(ctx), core.ErrUnavailable)
	assert.Equal(t, before+1, disk.writes.Load(), "the first check tries a write")
	for range 50 {
		require.ErrorIs(t, svc.Ready(ctx), core.ErrUnavailable)
	}
	assert.Equal(t, before+1, disk.writes.Load(), "further checks within UnavailableRetry write nothing")

	disk.full.Store(false) // space is freed
	_, err = svc.CreateProgramme(ctx, core.NewProgramme{Name: "Q"})
	require.NoError(t, err)
	require.ErrorIs(t, svc.Ready(ctx), core.ErrUnavailable, "a small write that fits does not end the state, nor is the probe retried before UnavailableRetry")
	clock.Advance(core.UnavailableRetry)
	require.NoError(t, svc.Ready(ctx), "the retried probe succeeds")
	require.NoError(t, svc.Ready(ctx))

	_, _, err = svc.CreateIdentity(ctx, prog.Programme, root)
	require.NoError(t, err, "the failed attempt left nothing behind (no ROOT_EMAIL_NOT_UNIQUE)")
}
