package core

import (
	"context"
	"errors"
	"fmt"
)

// A store is served in one mode for life. The first service that serves it
// marks it with its mode (the value is unused), and the mark is never
// removed: what either mode writes outlives it.
const (
	metaSandbox    = "sandbox"
	metaProduction = "production"
)

// ErrSandboxStore: the store has been served in sandbox mode, so it holds
// what sandbox mode makes and production must never accept: invites and
// codes whose secret is 123456 (an invite lives 30 days), links and
// webhooks over plain http, expiries stamped by a clock moved up to a year
// ahead per call, and, for `deputy demo`, a root user whose password is
// printed in the banner. New refuses such a store outside sandbox mode
// unless Config.Offline says the service will not serve.
var ErrSandboxStore = errors.New("this database has been served in sandbox mode (every code 123456, clock movable): " +
	"its invites, codes and links would still work; serve it with --sandbox, or start production from a fresh database")

// ErrProductionStore: the store has been served outside sandbox mode, so its
// users are real people; in sandbox mode every code sent to them would be
// 123456 and every message to them readable in the outbox. New refuses such
// a store in sandbox mode.
var ErrProductionStore = errors.New("this database has been served outside sandbox mode: its users are real, " +
	"and in sandbox mode every code would be 123456; serve it without --sandbox, or give the sandbox a database of its own")

// checkStoreMode refuses a store that has been served in the other mode
// than cfg's, and marks an unmarked one with cfg's mode. An Offline service
// (operator commands) opens a store of either mode and marks nothing. A
// marked store is only read, so that starting a service writes nothing.
func checkStoreMode(ctx context.Context, cfg Config, store Store) error {
	if cfg.Offline {
		return nil
	}
	mine, other, refusal := metaProduction, metaSandbox, ErrSandboxStore
	if cfg.Sandbox {
		mine, other, refusal = metaSandbox, metaProduction, ErrProductionStore
	}
	// marked reports whether tx holds mine, refusing other.
	marked := func(tx ReadTx) (bool, error) {
		if _, err := tx.Meta(other); !errors.Is(err, ErrRecordNotFound) {
			if err == nil {
				return false, refusal
			}
			return false, err
		}
		_, err := tx.Meta(mine)
		if errors.Is(err, ErrRecordNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	var done bool
	err := store.View(ctx, func(tx ReadTx) (err error) {
		done, err = marked(tx)
		return err
	})
	if err == nil && !done {
		err = store.Update(ctx, func(tx Tx) error {
			if done, err := marked(tx); err != nil || done {
				return err
			}
			return tx.PutMeta(mine, []byte{1})
		})
	}
	if err != nil && !errors.Is(err, refusal) {
		return fmt.Errorf("the store's mode: %w", err)
	}
	return err
}
