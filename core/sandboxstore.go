package core

import (
	"context"
	"errors"
	"fmt"
)

// metaSandbox marks a store that a sandbox service has opened (its value is
// unused). The mark is never removed: what sandbox mode writes outlives it.
const metaSandbox = "sandbox"

// ErrSandboxStore: the store has been served in sandbox mode, so it holds
// what sandbox mode makes and production must never accept: invites and
// codes whose secret is 123456 (an invite lives 30 days), links and
// webhooks over plain http, expiries stamped by a clock moved up to a year
// ahead per call, and, for `deputy demo`, a root user whose password is
// printed in the banner. New refuses such a store outside sandbox mode
// unless Config.Offline says the service will not serve.
var ErrSandboxStore = errors.New("this database has been served in sandbox mode (every code 123456, clock movable): " +
	"its invites, codes and links would still work; serve it with --sandbox, or start production from a fresh database")

// checkSandboxStore marks store as a sandbox's when cfg is sandbox mode, and
// otherwise refuses a store so marked unless cfg.Offline.
func checkSandboxStore(ctx context.Context, cfg Config, store Store) error {
	if cfg.Sandbox {
		err := store.Update(ctx, func(tx Tx) error {
			if _, err := tx.Meta(metaSandbox); !errors.Is(err, ErrRecordNotFound) {
				return err // already marked, or a failed read
			}
			return tx.PutMeta(metaSandbox, []byte{1})
		})
		if err != nil {
			return fmt.Errorf("mark the store as a sandbox's: %w", err)
		}
		return nil
	}
	if cfg.Offline {
		return nil
	}
	err := store.View(ctx, func(tx ReadTx) error {
		_, err := tx.Meta(metaSandbox)
		return err
	})
	switch {
	case err == nil:
		return ErrSandboxStore
	case errors.Is(err, ErrRecordNotFound):
		return nil
	default:
		return fmt.Errorf("read the store's sandbox mark: %w", err)
	}
}
