package core

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// Idempotency outcomes of BeginIdempotent.
var (
	// ErrPayloadMismatch: the ref was used before with a different payload (400).
	ErrPayloadMismatch = &Error{Class: ErrInvalid, Message: "Payloads do not match for the same idempotency-ref."}
	// ErrIdempotencyInFlight: the first request with this ref is still running (409).
	ErrIdempotencyInFlight = &Error{Class: ErrConflict, Code: "IDEMPOTENCY_REF_IN_FLIGHT", Message: "a request with this idempotency-ref is still in progress"}
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
			return nil
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

// FinishIdempotent stores a successful response for replay.
func (s *Service) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		rec, err := tx.Idempotency(key)
		if err != nil {
			return err
		}
		rec.Done, rec.Status, rec.Body = true, status, body
		return tx.UpdateIdempotency(rec)
	})
	return internal("finish idempotent request", err)
}

// AbandonIdempotent forgets a request that failed, so that it may be retried.
func (s *Service) AbandonIdempotent(ctx context.Context, key string) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		err := tx.DeleteIdempotency(key)
		if errors.Is(err, ErrRecordNotFound) {
			return nil
		}
		return err
	})
	return internal("abandon idempotent request", err)
}
