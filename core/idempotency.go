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
	// committed: the store reported that the transaction which recorded
	// the answer committed (settle); without it the commit is unknown.
	committed bool
	answers   int // how many times a transaction recorded the answer
	status    int
	body      []byte
}

// recorded returns how many times a transaction recorded the answer, for
// settle.
func (c *IdempotentCall) recorded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answers
}

// settle notes how a store Update that ran with this call ended, ok when
// the store reported its commit, before which the answer had been recorded
// before times: when that Update recorded the answer (the last one), the
// answer is known to be stored only if ok. An answer recorded in a
// transaction whose commit was not reported (rolled back, or the store
// could not tell) is not known to be stored, whatever later Updates do.
func (c *IdempotentCall) settle(before int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answers != before {
		c.committed = ok
	}
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
	call.answered, call.committed, call.status, call.body = true, false, status, body
	call.answers++
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

// AbandonIdempotent forgets a request that failed, so that it may be
// retried: its claim, or the answer its operation recorded before a later
// step failed (a text message that could not be sent, or timed out). A
// finished record is kept unless the store reported the commit of the
// transaction that recorded this call's answer: another run of the request
// finished it, or this run's commit went unreported (the store could not
// tell, or the request's context ended amid it), and then the record
// committed with the change or not at all, so it is the retry's answer, and
// forgetting it would apply the change twice. Whether the commit was
// reported is known from the store (spaceWatch.Update), not from the error:
// a sender's timeout is a context error too, after a known commit.
func (s *Service) AbandonIdempotent(ctx context.Context, call *IdempotentCall) error {
	call.mu.Lock()
	ours := call.answered && call.committed
	call.mu.Unlock()
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
