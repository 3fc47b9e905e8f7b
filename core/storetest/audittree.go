package storetest

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

// StoredTree reads a programme's audit tree hashes in a transaction
// (tlog.HashReader).
type StoredTree struct {
	Tx          core.ReadTx
	ProgrammeID string
}

// ReadHashes implements tlog.HashReader.
func (r StoredTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return r.Tx.AuditHashes(r.ProgrammeID, indexes)
}

// MemoryTree is an audit tree built in memory, the reference a stored one is
// checked against: its hashes at their storage indexes (tlog.HashReader).
type MemoryTree []tlog.Hash

// ReadHashes implements tlog.HashReader.
func (m MemoryTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d of a tree of %d hashes", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

// Append adds the leaf of e, the tree's next (its Seq counts from 1), as
// core.AddAuditLeaf does in a store.
func (m *MemoryTree) Append(e *core.AuditEvent) error {
	hs, err := tlog.StoredHashes(int64(e.Seq)-1, core.AuditLeaf(e), *m)
	*m = append(*m, hs...)
	return err
}
