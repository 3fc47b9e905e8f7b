package core_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// leaderFake leads when lead is true, and records what it was asked to run.
type leaderFake struct {
	lead  bool
	asked []string
}

func (l *leaderFake) Lead(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	l.asked = append(l.asked, name)
	if !l.lead {
		return false, nil
	}
	return true, fn(ctx)
}

// TestSweepLedByOneReplica: the sweep runs through the Leader, so a replica
// that another one is sweeping for leaves the store alone.
func TestSweepLedByOneReplica(t *testing.T) {
	e := newCoreEnv(t)
	_, token := e.root(e.prog, "ada@acme.test")
	hash := e.caller(e.prog, token).Session.TokenHash
	leader := &leaderFake{}
	svc, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		e.store, core.Integrations{SMS: e.sms, Email: e.mail, Leader: leader}, e.clock)
	require.NoError(t, err)
	e.clock.Advance(time.Hour) // the session is idle for longer than it may be

	require.NoError(t, svc.Sweep(e.ctx))
	assert.Equal(t, []string{"sweep"}, leader.asked)
	_, err = e.session(hash)
	require.NoError(t, err, "another replica sweeps: nothing is removed here")

	leader.lead = true
	require.NoError(t, svc.Sweep(e.ctx))
	_, err = e.session(hash)
	assert.ErrorIs(t, err, core.ErrRecordNotFound, "leading, this replica sweeps")
}
