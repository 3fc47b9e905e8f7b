// Package storecopy copies a whole installation from one store into another,
// empty one (`deputy store copy`, moving from bbolt up to PostgreSQL), and
// proves the copy: for every kind of record, the count and a checksum of the
// records read from the source equal those read back from the target in the
// transaction that writes them, or that transaction does not commit.
package storecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/deputyhq/deputy/core"
)

// ErrMismatch: what the target holds differs from the source; nothing was committed.
var ErrMismatch = errors.New("the copy does not match the source")

// Tally is what one side of a copy holds of one kind.
type Tally struct {
	Count int
	// Sum is the SHA-256 of the kind's records' digests, sorted: the order
	// a store keeps them in does not matter. A record's digest is the SHA-256
	// of its JSON encoding (encoding/json: a struct's fields in order, a
	// map's keys sorted).
	Sum [sha256.Size]byte
}

// Kind compares one kind of record in the source and in the target.
type Kind struct {
	Kind           core.RecordKind
	Source, Target Tally
}

// OK reports whether the target holds what the source does.
func (k Kind) OK() bool { return k.Source == k.Target }

// Copy copies every record of from into to, which must be empty
// (core.ErrNotEmpty otherwise), in one transaction of to's that commits only
// when every kind matches. It returns a Kind for each of core.RecordKinds,
// also when they do not match (ErrMismatch).
func Copy(ctx context.Context, from core.Exporter, to core.Importer) ([]Kind, error) {
	var source, target *tallies
	load := func(put func(core.Record) error) error {
		source = newTallies()
		return from.Export(ctx, func(r core.Record) error {
			if err := source.add(r); err != nil {
				return err
			}
			return put(r)
		})
	}
	var kinds []Kind
	check := func(walk core.Walk) error {
		target = newTallies()
		if err := walk(target.add); err != nil {
			return fmt.Errorf("read the copy back: %w", err)
		}
		kinds = compare(source, target)
		for _, k := range kinds {
			if !k.OK() {
				return ErrMismatch
			}
		}
		return nil
	}
	err := to.Import(ctx, load, check)
	return kinds, err
}

// tallies accumulates the records of each kind: their count and digests.
type tallies struct {
	digests map[core.RecordKind][][sha256.Size]byte
}

func newTallies() *tallies {
	return &tallies{digests: map[core.RecordKind][][sha256.Size]byte{}}
}

func (t *tallies) add(r core.Record) error {
	if !slices.Contains(core.RecordKinds(), r.Kind) {
		return fmt.Errorf("a record of unknown kind %q", r.Kind)
	}
	b, err := json.Marshal(r.Value)
	if err != nil {
		return fmt.Errorf("encode a %s record: %w", r.Kind, err)
	}
	t.digests[r.Kind] = append(t.digests[r.Kind], sha256.Sum256(b))
	return nil
}

// tally sums up one kind.
func (t *tallies) tally(kind core.RecordKind) Tally {
	ds := t.digests[kind]
	slices.SortFunc(ds, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for _, d := range ds {
		h.Write(d[:])
	}
	tl := Tally{Count: len(ds)}
	h.Sum(tl.Sum[:0])
	return tl
}

// compare lines up the two sides, kind by kind.
func compare(source, target *tallies) []Kind {
	kinds := make([]Kind, 0, len(core.RecordKinds()))
	for _, k := range core.RecordKinds() {
		kinds = append(kinds, Kind{Kind: k, Source: source.tally(k), Target: target.tally(k)})
	}
	return kinds
}
