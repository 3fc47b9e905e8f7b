package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

// testAuditSeqHasNoGaps: Seq is 1, 2, 3... per programme, and a rolled-back
// append leaves no gap, because Seq-1 is the event's leaf in the Merkle tree.
func testAuditSeqHasNoGaps(t *testing.T, s core.Store) {
	size := func(p string) int64 {
		t.Helper()
		n, err := read(t, s, func(tx core.ReadTx) (int64, error) { return tx.AuditSize(p) })
		require.NoError(t, err)
		return n
	}
	assert.Zero(t, size("p1"), "a programme without events")
	e1, e2 := auditEvent("p1", 1), auditEvent("p2", 2)
	mustUpdate(t, s, func(tx core.Tx) error { return errors.Join(tx.AppendAudit(e1), tx.AppendAudit(e2)) })
	boom := errors.New("boom")
	err := tryWrite(t, s, func(tx core.Tx) error {
		if err := tx.AppendAudit(auditEvent("p1", 3)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	e4 := auditEvent("p1", 4)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendAudit(e4) })
	assert.Equal(t, []uint64{1, 1, 2}, []uint64{e1.Seq, e2.Seq, e4.Seq}, "Seq per programme from 1, no gap after a rollback")
	assert.Equal(t, int64(2), size("p1"))
	assert.Equal(t, int64(1), size("p2"))
}

func testAuditHashes(t *testing.T, s core.Store) {
	h := func(b byte) tlog.Hash { return tlog.Hash{b, b} }
	mustUpdate(t, s, func(tx core.Tx) error {
		return errors.Join(tx.PutAuditHashes("p1", 0, []tlog.Hash{h(1), h(2)}), tx.PutAuditHashes("p1", 2, []tlog.Hash{h(3)}),
			tx.PutAuditHashes("p2", 0, []tlog.Hash{h(9)}))
	})
	got, err := read(t, s, func(tx core.ReadTx) ([]tlog.Hash, error) { return tx.AuditHashes("p1", []int64{2, 0, 1}) })
	require.NoError(t, err)
	assert.Equal(t, []tlog.Hash{h(3), h(1), h(2)}, got, "in the order asked")
	for _, missing := range [][]int64{{3}, {0, 5}, {-1}} {
		_, err = read(t, s, func(tx core.ReadTx) ([]tlog.Hash, error) { return tx.AuditHashes("p1", missing) })
		require.ErrorIs(t, err, core.ErrRecordNotFound, "indexes %v", missing)
	}
	_, err = read(t, s, func(tx core.ReadTx) ([]tlog.Hash, error) { return tx.AuditHashes("p3", []int64{0}) })
	require.ErrorIs(t, err, core.ErrRecordNotFound, "a programme without a tree")
}

func testAuditCheckpoints(t *testing.T, s core.Store) {
	cp := func(p string, size int64) *core.AuditCheckpoint {
		return &core.AuditCheckpoint{ProgrammeID: p, Size: size, Note: []byte("note " + p), At: t0}
	}
	mustUpdate(t, s, func(tx core.Tx) error {
		return errors.Join(tx.InsertAuditCheckpoint(cp("p1", 3)), tx.InsertAuditCheckpoint(cp("p1", 1)),
			tx.InsertAuditCheckpoint(cp("p1", 7)), tx.InsertAuditCheckpoint(cp("p2", 2)))
	})
	requireComplete(t, cp("p1", 3))
	list := func(p string, after int64, limit int) []*core.AuditCheckpoint {
		t.Helper()
		cs, err := read(t, s, func(tx core.ReadTx) ([]*core.AuditCheckpoint, error) { return tx.AuditCheckpoints(p, after, limit) })
		require.NoError(t, err)
		return cs
	}
	assert.Equal(t, []*core.AuditCheckpoint{cp("p1", 1), cp("p1", 3), cp("p1", 7)}, list("p1", 0, 0), "every one, smallest first")
	assert.Equal(t, []*core.AuditCheckpoint{cp("p1", 3)}, list("p1", 1, 1), "after size 1, one")
	assert.Empty(t, list("p3", 0, 0))
	last, err := read(t, s, func(tx core.ReadTx) (*core.AuditCheckpoint, error) { return tx.LastAuditCheckpoint("p1") })
	require.NoError(t, err)
	assert.Equal(t, cp("p1", 7), last)
	_, err = read(t, s, func(tx core.ReadTx) (*core.AuditCheckpoint, error) { return tx.LastAuditCheckpoint("p3") })
	require.ErrorIs(t, err, core.ErrRecordNotFound)
	requireDuplicate(t, tryWrite(t, s, func(tx core.Tx) error { return tx.InsertAuditCheckpoint(cp("p1", 3)) }), core.UniqueAuditCheckpoint)
}

func testAuditEventsAbout(t *testing.T, s core.Store) {
	var about []*core.AuditEvent // events of p1 about subject 102, in order
	for n := range 9 {
		e := auditEvent("p1", n)
		switch n % 3 {
		case 0:
			e.Subject = "1020" // a subject 102 is a prefix of
		case 1:
			about = append(about, e)
		case 2:
			e.ProgrammeID = "p2"
		}
		mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendAudit(e) })
	}
	list := func(subject string, before uint64, limit int) []*core.AuditEvent {
		t.Helper()
		es, err := read(t, s, func(tx core.ReadTx) ([]*core.AuditEvent, error) {
			return tx.AuditEventsAbout("p1", subject, before, limit)
		})
		require.NoError(t, err)
		return es
	}
	newestFirst := []*core.AuditEvent{about[2], about[1], about[0]}
	assert.Equal(t, newestFirst, list("102", 0, 10), "every event about 102, newest first")
	assert.Equal(t, newestFirst[:2], list("102", 0, 2), "limit")
	assert.Equal(t, newestFirst[1:], list("102", about[2].Seq, 10), "below a Seq")
	assert.Empty(t, list("102", about[0].Seq, 10), "nothing below the oldest")
	assert.Len(t, list("1020", 0, 10), 3)
	assert.Empty(t, list("10", 0, 10), "a prefix of a subject is another subject")
	assert.Empty(t, list("", 0, 10))
}
