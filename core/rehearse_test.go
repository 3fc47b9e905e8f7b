package core_test

import (
	"context"
	"errors"

	"github.com/deputyhq/deputy/core"
)

// rehearsingStore runs each Update's function twice: first in a transaction
// it then rolls back, as a store does when a transaction fails to serialize
// at commit (PostgreSQL), then for real. Every service of the core tests
// runs on one, so that an effect a function has outside its transaction (a
// message sent, a count or a slice in memory not reset at its start) shows
// twice, and the tests that count those effects fail.
type rehearsingStore struct{ core.Store }

// errRehearsal rolls a rehearsal's transaction back.
var errRehearsal = errors.New("rehearsal: rolled back")

func (s rehearsingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	err := s.Store.Update(ctx, func(tx core.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRehearsal
	})
	if !errors.Is(err, errRehearsal) {
		return err
	}
	return s.Store.Update(ctx, fn)
}
