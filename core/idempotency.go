package core

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
)

// Idempotency outcomes of BeginIdempotent.
var (
	// ErrPayloadMismatch: the ref was used before with a different payload (400).
	ErrPayloadMismatch = &Error{Class: ErrInvalid, Message: "Payloads do not match for the same idempotency-ref."}
	// ErrIdempotencyInFlight: the first request with this ref is still running (409).
	ErrIdempotencyInFlight = &Error{Class: ErrConflict, Code: CodeIdempotencyInFlight, Message: "a request with this idempotency-ref is still in progress"}
)

// abandonAfter is how long an in-flight record may stay unfinished before a retry
// may take it over (the first request's process died).
const abandonAfter = time.Minute

// BeginIdempotent claims key for a request whose payload hashes to payloadHash.
// It returns the stored record when a finished request should be replayed, nil
// when the caller should run the request and then call FinishIdempotent or
// AbandonIdempotent. key must already be scoped to the caller.
func (s *Service) BeginIdempotent(ctx context.Context, key string, payloadHash []byte) (*IdempotencyRecord, error) {
	var replay *IdempotencyRecord
	err := s.store.Update(ctx, func(tx Tx) error {
		replay = nil
		now := s.clock.Now()
		rec, err := tx.Idempotency(key)
		switch {
		case errors.Is(err, ErrRecordNotFound):
			return tx.InsertIdempotency(&IdempotencyRecord{Key: key, PayloadHash: payloadHash, CreatedAt: now, ExpiresAt: now.Add(s.cfg.IdempotencyTTL)})
		case err != nil:
			return err
		case !now.Before(rec.ExpiresAt):
			return tx.UpdateIdempotency(&IdempotencyRecord{Key: key, PayloadHash: payloadHash, CreatedAt: now, ExpiresAt: now.Add(s.cfg.IdempotencyTTL)})
		case !bytes.Equal(rec.PayloadHash, payloadHash):
			return ErrPayloadMismatch
		case rec.Done:
			replay = rec
			return s.openAnswer(rec)
		case now.Sub(rec.CreatedAt) < abandonAfter:
			return ErrIdempotencyInFlight
		default:
			rec.CreatedAt = now
			return tx.UpdateIdempotency(rec)
		}
	})
	if err != nil {
		return nil, internal("begin idempotent request", err)
	}
	return replay, nil
}

// IdempotentCall is an idempotency-ref that BeginIdempotent claimed, carried
// into core with its request's context so that the operation's own
// transaction also finishes the record: the change and the answer that
// replays it commit together, and a retry after a crash between the commit
// and the answer gets that answer (never IDEMPOTENCY_REF_IN_FLIGHT, then a
// conflict with the change itself). It is request-scoped data, the record's
// key, plus the server's encoder of this request's answer: a pure function of
// the operation's result, not a service (GUIDE, convention 5).
type IdempotentCall struct {
	// Key is the claimed record's key.
	Key string
	// Answer renders the operation's result as the HTTP answer to replay.
	// Operations without a result pass nil.
	Answer func(result any) (status int, body []byte, err error)

	mu       sync.Mutex
	answered bool
	status   int
	body     []byte
}

type idempotentCallKey struct{}

// WithIdempotentCall returns ctx carrying call to the operation it is passed to.
func WithIdempotentCall(ctx context.Context, call *IdempotentCall) context.Context {
	return context.WithValue(ctx, idempotentCallKey{}, call)
}

// Answered returns the answer the operation recorded with its change, if it
// recorded one (ok false: the operation committed no change of its own).
func (c *IdempotentCall) Answered() (status int, body []byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.body, c.answered
}

// finishIdempotent finishes the record of ctx's idempotent call in tx, the
// transaction of the operation's change, with the answer for result. Every
// operation reachable through an idempotent endpoint calls it as the last
// step of that transaction; without a call in ctx it does nothing. A record
// that another run of the same request (one that took over an abandoned
// claim) finished first fails the transaction with ErrIdempotencyInFlight, so
// the change happens once.
//
// It also settles the bulk operation ctx runs, if any (settleBulkStep): the
// operation's change and its COMPLETED mark commit together, once.
func (s *Service) finishIdempotent(ctx context.Context, tx Tx, result any) error {
	if step, _ := ctx.Value(bulkStepKey{}).(*bulkStep); step != nil {
		if err := s.settleBulkStep(ctx, tx, step, result, nil); err != nil {
			return err
		}
	}
	call, _ := ctx.Value(idempotentCallKey{}).(*IdempotentCall)
	if call == nil || call.Answer == nil {
		return nil
	}
	status, body, err := call.Answer(result)
	if err != nil {
		return err
	}
	rec, err := tx.Idempotency(call.Key)
	if err != nil {
		return err
	}
	if rec.Done {
		return ErrIdempotencyInFlight
	}
	if err := s.keepAnswer(rec, status, body); err != nil {
		return err
	}
	if err := tx.UpdateIdempotency(rec); err != nil {
		return err
	}
	call.mu.Lock()
	call.answered, call.status, call.body = true, status, body
	call.mu.Unlock()
	return nil
}

// FinishIdempotent stores a successful response for replay, for a request
// whose operation committed no change of its own to finish it with.
func (s *Service) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		rec, err := tx.Idempotency(key)
		if err != nil {
			return err
		}
		if err := s.keepAnswer(rec, status, body); err != nil {
			return err
		}
		return tx.UpdateIdempotency(rec)
	})
	return internal("finish idempotent request", err)
}

// keepAnswer records a finished request's answer in rec, sealed: it may
// carry a session token (an invite consumed, a password set).
func (s *Service) keepAnswer(rec *IdempotencyRecord, status int, body []byte) error {
	sealed, err := s.seal(sealIdempotent, body)
	if err != nil {
		return err
	}
	rec.Done, rec.Status, rec.Body, rec.Sealed = true, status, sealed, true
	return nil
}

// openAnswer opens the answer keepAnswer sealed in rec, for its replay.
func (s *Service) openAnswer(rec *IdempotencyRecord) error {
	if !rec.Sealed {
		return nil
	}
	body, err := s.open(sealIdempotent, rec.Body)
	if err != nil {
		return err
	}
	rec.Body, rec.Sealed = body, false
	return nil
}

// AbandonIdempotent forgets a request that failed with cause, so that it may
// be retried: its claim, or the answer its operation recorded before a later
// step failed (a text message that could not be sent). A record that another
// run of the request finished is kept, and so is a finished one when cause
// leaves unknown whether the operation's transaction committed (the store
// could not tell, or the request's context ended amid it): the record
// committed with the change, or not at all, so it is the retry's answer, and
// forgetting it would apply the change twice.
func (s *Service) AbandonIdempotent(ctx context.Context, call *IdempotentCall, cause error) error {
	_, _, ours := call.Answered()
	if outcomeUnknown(cause) {
		ours = false
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		rec, err := tx.Idempotency(call.Key)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && rec.Done && !ours) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.DeleteIdempotency(call.Key)
	})
	return internal("abandon idempotent request", err)
}

// outcomeUnknown reports whether a change that failed with err may have
// committed all the same: its store was unreachable (a connection broken
// amid the COMMIT), or its context ended while the COMMIT was on its way.
func outcomeUnknown(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
