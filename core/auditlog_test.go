package core_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/deputyhq/deputy/auditlog"
	"github.com/deputyhq/deputy/core"
)

// auditKeys returns a signer for Config.AuditSigner and its verifier.
func auditKeys(t testing.TB) (note.Signer, note.Verifier) {
	skey, vkey, err := auditlog.NewKey("deputy-test")
	require.NoError(t, err)
	s, err := note.NewSigner(skey)
	require.NoError(t, err)
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	return s, v
}

// TestAuditTreeUnderParallelWrites: events committed by parallel requests
// (grouped into shared commits, retried alone when a batch fails) each become
// one leaf, and an export verifies against every checkpoint made meanwhile.
func TestAuditTreeUnderParallelWrites(t *testing.T) {
	signer, verifier := auditKeys(t)
	e := newCoreEnv(t, func(c *core.Config) { c.AuditSigner = signer; c.AuditCheckpointEvents = 7 })
	other := e.programme("Other", core.ProgrammeSettings{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			prog := e.prog
			if i%4 == 0 {
				prog = other
			}
			m := testMobile
			_, _, err := e.svc.CreateIdentity(e.ctx, prog, core.NewIdentity{Type: core.Consumer, Name: "Ada",
				Root: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: fmt.Sprintf("ada%d@acme.test", i), Mobile: &m}})
			assert.NoError(t, err)
			if i%10 == 0 {
				_, err := e.svc.CheckpointAudit(e.ctx)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	e.clock.Advance(time.Minute) // the interval: a checkpoint of everything
	_, err := e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	made, err := e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, made, "nothing new: no checkpoint")

	for prog, events := range map[*core.Programme]int64{e.prog: 1 + 30, other: 1 + 10} {
		var buf bytes.Buffer
		require.NoError(t, e.svc.ExportAudit(e.ctx, prog.ID, &buf))
		rep, err := auditlog.Verify(&buf, verifier, nil)
		require.NoError(t, err)
		assert.Equal(t, events, rep.Events, "programme.create and one identity.create per request")
		assert.Equal(t, events, rep.Covered, "the last checkpoint covers every event")
		assert.GreaterOrEqual(t, rep.Checkpoints, 1)
	}
	assert.ErrorIs(t, e.svc.ExportAudit(e.ctx, "999", &bytes.Buffer{}), core.ErrNotFound)
}
