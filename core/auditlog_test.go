package core_test

import (
	"bytes"
	"fmt"
	"log/slog"
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
	e := newCoreEnv(t, func(c *core.Config) { c.AuditSigner, c.AuditVerifier = signer, verifier; c.AuditCheckpointEvents = 7 })
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

// Bytes that are not UTF-8 in an audit event's details (a resource id from
// a caller of core that skipped the server's syntax check, say) are stored
// as the leaf's JSON encodes them, U+FFFD: the stored event is exactly what
// its leaf hashes, so no edit of the stored bytes can hide behind the
// encoding, and the export verifies.
func TestAuditStoresWhatItsLeafHashes(t *testing.T) {
	signer, verifier := auditKeys(t)
	e := newCoreEnv(t, func(c *core.Config) { c.AuditSigner, c.AuditVerifier = signer, verifier })
	prog := e.programme("Acme Pay", core.ProgrammeSettings{})
	root, _ := e.root(prog, "ada@acme.test")
	_, err := e.svc.PutResource(e.ctx, prog, core.NewResource{Type: core.ResourceSends, ID: "caf\xe9", UserID: root.ID,
		Summary: core.ResourceSummary{Amount: core.Amount{Currency: "EUR", Value: 1250}, PayeeName: "Bob", PayeeAccount: "DE89370400440532013000"}})
	require.NoError(t, err)
	var events []*core.AuditEvent
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		events, err = tx.AuditEvents(prog.ID, 0, 100)
		return err
	}))
	last := events[len(events)-1]
	require.Equal(t, "resource.register", last.Action)
	assert.Equal(t, "caf\uFFFD", last.Details["resource"])
	assert.Contains(t, string(core.AuditLeaf(last)), "\"resource\":\"caf\uFFFD\"")

	_, err = e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, e.svc.ExportAudit(e.ctx, prog.ID, &buf))
	_, err = auditlog.Verify(&buf, verifier, auditlog.Origin(prog.ID), nil)
	require.NoError(t, err)
}

// rewriteAuditHashes stores the tree hashes of a programme's log as if its
// event seq had action instead: what someone with the database does to make
// an edited event hash right.
func rewriteAuditHashes(t *testing.T, e *coreEnv, programmeID string, seq uint64, action string) {
	t.Helper()
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		evs, err := tx.AuditEvents(programmeID, 0, 1000)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Seq == seq {
				ev.Action = action
			}
			if err := core.AddAuditLeaf(tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TestAuditNoCheckpointOverARewrite: once the stored log no longer holds
// what a checkpoint signed (an event edited and the tree hashes recomputed
// to match), no checkpoint is signed over it, by this process (which
// remembers what it signed) or a new one (which checks the last stored
// checkpoint), and the log says why; another programme's log goes on.
func TestAuditNoCheckpointOverARewrite(t *testing.T) {
	signer, verifier := auditKeys(t)
	keys := func(c *core.Config) { c.AuditSigner, c.AuditVerifier = signer, verifier; c.AuditCheckpointEvents = 1 }
	e := newCoreEnv(t, keys)
	other := e.programme("Other", core.ProgrammeSettings{})
	e.root(e.prog, "ada@acme.test")
	made, err := e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, made, "both programmes' logs")

	rewriteAuditHashes(t, e, e.prog.ID, 2, "identity.delete")
	e.root(e.prog, "bob@acme.test")
	e.root(other, "cy@acme.test")
	made, err = e.svc.CheckpointAudit(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, made, "the other programme's only")
	assert.Contains(t, e.logs.String(), `"msg":"audit log rewritten: no checkpoint signed","programme":"`+e.prog.ID+`"`)

	fresh, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		AuditSigner: signer, AuditVerifier: verifier, AuditCheckpointEvents: 1}, e.store, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(t, err)
	made, err = fresh.SealAudit(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, made, "a new process checks the last stored checkpoint")
}

// TestAuditKeyOfTheStoredCheckpoints: a service refuses a store whose
// checkpoints another key signed, and a verifier that is not its signer's.
func TestAuditKeyOfTheStoredCheckpoints(t *testing.T) {
	signer, verifier := auditKeys(t)
	e := newCoreEnv(t, func(c *core.Config) { c.AuditSigner, c.AuditVerifier = signer, verifier })
	_, err := e.svc.SealAudit(e.ctx)
	require.NoError(t, err)
	otherSigner, otherVerifier := auditKeys(t)
	open := func(s note.Signer, v note.Verifier) error {
		_, err := core.New(e.ctx, core.Config{Sandbox: true, AuditSigner: s, AuditVerifier: v}, e.store, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
		return err
	}
	require.ErrorContains(t, open(otherSigner, otherVerifier), "signed by another key")
	require.ErrorContains(t, open(signer, otherVerifier), "not the signer's")
	require.ErrorContains(t, open(signer, nil), "needs its verifier")
	require.NoError(t, open(signer, verifier))
	require.NoError(t, open(nil, nil), "a service that signs nothing")
}
