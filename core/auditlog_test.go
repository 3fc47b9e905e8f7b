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
		rep, err := auditlog.Verify(&buf, verifier, auditlog.Origin(prog.ID), nil)
		require.NoError(t, err)
		assert.Equal(t, events, rep.Events, "programme.create and one identity.create per request")
		assert.Equal(t, events, rep.Covered, "the last checkpoint covers every event")
		assert.GreaterOrEqual(t, rep.Checkpoints, 1)
	}
	assert.ErrorIs(t, e.svc.ExportAudit(e.ctx, "999", &bytes.Buffer{}), core.ErrNotFound)
}

// Bytes that are not UTF-8 (in a webhook URL's path typed in a terminal of
// another encoding, say; a programme's name refuses them, as it did not
// always) are stored as the leaf's JSON encodes them, U+FFFD: the stored
// event is exactly what its leaf hashes, so no edit of the stored bytes can
// hide behind the encoding, and the export verifies.
func TestAuditStoresWhatItsLeafHashes(t *testing.T) {
	signer, verifier := auditKeys(t)
	e := newCoreEnv(t, func(c *core.Config) { c.AuditSigner = signer })
	prog := e.programme("Acme Pay", core.ProgrammeSettings{})
	_, err := e.svc.AddWebhook(e.ctx, prog.ID, core.NewWebhook{URL: "https://9.9.9.9/caf\xe9", AllowPrivate: true})
	require.NoError(t, err)
	var events []*core.AuditEvent
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		events, err = tx.AuditEvents(prog.ID, 0, 10)
		return err
	}))
	require.Len(t, events, 2)
	assert.Equal(t, "https://9.9.9.9/caf\uFFFD", events[1].Details["url"])
	assert.Contains(t, string(core.AuditLeaf(events[1])), "\"url\":\"https://9.9.9.9/caf\uFFFD\"")

	_, err = e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, e.svc.ExportAudit(e.ctx, prog.ID, &buf))
	_, err = auditlog.Verify(&buf, verifier, auditlog.Origin(prog.ID), nil)
	require.NoError(t, err)
}
