package pgstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

// The per-programme logs (the audit log and the sandbox outbox) number their
// entries 1, 2, 3... through log_heads: a transaction bumps its programme's
// row, so concurrent appends to one log serialize there and commit in order,
// without gaps. Update makes the appenders of a log that fail each other
// take turns (turns.go) under its session advisory lock (class logClass, key
// logKey).
const (
	logAudit  = "audit"
	logOutbox = "outbox"
	// logClass is the first key of the logs' advisory locks ("LOGS").
	logClass = 0x4c4f4753
)

// logKey is the second key of a log's advisory lock: two logs may share one,
// which makes their appenders take turns together, nothing worse.
func logKey(programmeID, log string) int32 {
	h := fnv.New32a()
	h.Write([]byte(programmeID))
	h.Write([]byte{0})
	h.Write([]byte(log))
	return int32(h.Sum32())
}

// nextInLog returns the next number of a programme's log; for the audit
// log, it keeps the peaks of the tree the new leaf goes into (auditpeaks.go).
// The head moves only while the log's advisory lock is free or this
// session's: a transaction that finds a line holding it (turns.go) joins the
// line (errLogQueued) rather than overtake it, which would fail the line's
// transaction.
func (t *tx) nextInLog(programmeID, log string) (uint64, error) {
	k := logKey(programmeID, log)
	if !slices.Contains(t.logs, k) {
		t.logs = append(t.logs, k)
	}
	var (
		n        int64
		treeSize *int64
		peaks    []byte
	)
	err := t.scan("log head", `INSERT INTO log_heads (programme_id, log, last) VALUES ($1, $2, 1)
		ON CONFLICT (programme_id, log) DO UPDATE SET last = log_heads.last + 1
			WHERE pg_try_advisory_xact_lock($3, $4)
		RETURNING last, tree_size, tree_peaks`,
		[]any{programmeID, log, int32(logClass), k}, &n, &treeSize, &peaks)
	if isNotFound(err) {
		err = errLogQueued
		if t.retry == nil {
			t.retry = err
		}
	}
	if err == nil && log == logAudit {
		t.known.appending = keep(t.known.appending, programmeID, newTreePeaks(n-1, treeSize, peaks))
	}
	return uint64(n), err
}

// errLogQueued is the failure of an append to a log whose lock a line
// holds: Update runs the function again in the line.
var errLogQueued = errors.New("the log is a line's to append to")

// seqParam is a uint64 Seq as a bigint parameter; above the range of bigint,
// it is past every stored Seq.
func seqParam(seq uint64) int64 { return int64(min(seq, math.MaxInt64)) }

func (t *tx) AppendAudit(e *core.AuditEvent) error {
	seq, err := t.nextInLog(e.ProgrammeID, logAudit)
	if err != nil {
		return err
	}
	e.Seq = seq
	return t.insertAuditEvent(e)
}

// insertAuditEvent stores e under its Seq, queued: the log's head handed the
// Seq out to this transaction alone.
func (t *tx) insertAuditEvent(e *core.AuditEvent) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	t.queue(`INSERT INTO audit_events (programme_id, seq, subject, data) VALUES ($1, $2, $3, $4)`,
		e.ProgrammeID, seqParam(e.Seq), e.Subject, data)
	return nil
}

func (t *tx) AuditEvents(programmeID string, after uint64, limit int) ([]*core.AuditEvent, error) {
	if limit <= 0 || after >= math.MaxInt64 {
		return nil, nil
	}
	return list[core.AuditEvent](t, "audit event",
		`SELECT data FROM audit_events WHERE programme_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, programmeID, int64(after), limit)
}

func (t *tx) AuditEventsAbout(programmeID, subject string, before uint64, limit int) ([]*core.AuditEvent, error) {
	if subject == "" || limit <= 0 {
		return nil, nil
	}
	if before == 0 {
		before = math.MaxUint64
	}
	return list[core.AuditEvent](t, "audit event",
		`SELECT data FROM audit_events WHERE programme_id = $1 AND subject = $2 AND subject <> '' AND seq < $3 ORDER BY seq DESC LIMIT $4`,
		programmeID, subject, seqParam(before), limit)
}

func (t *tx) AuditSize(programmeID string) (int64, error) {
	sizes, err := column[int64](t, `SELECT last FROM log_heads WHERE programme_id = $1 AND log = $2`, programmeID, logAudit)
	if err != nil || len(sizes) == 0 {
		return 0, err
	}
	return sizes[0], nil
}

// AuditHashes answers an append (nextInLog) from the tree's peaks when it
// can, and otherwise reads them along with the hashes asked for.
func (t *tx) AuditHashes(programmeID string, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	tp := t.known.appending[programmeID]
	if tp != nil {
		if out, ok := tp.lookup(indexes); ok {
			return out, nil
		}
	}
	read := indexes
	if tp != nil && !tp.known {
		read = append(slices.Clone(indexes), peakIndexes(tp.size)...)
	}
	stored := map[int64][]byte{}
	err := t.query(`SELECT idx, hash FROM audit_hashes WHERE programme_id = $1 AND idx = ANY($2)`, []any{programmeID, read},
		func(rows pgx.Rows) error {
			var (
				idx  int64
				hash []byte
			)
			_, err := pgx.ForEachRow(rows, []any{&idx, &hash}, func() error {
				stored[idx] = hash
				return nil
			})
			return err
		})
	if err != nil {
		return nil, err
	}
	if tp != nil && !tp.known {
		tp.learn(stored)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h := stored[x]
		if len(h) != tlog.HashSize {
			return nil, notFound(fmt.Sprintf("audit tree hash %d", x))
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// PutAuditHashes stores the hashes, queued, and after an append the tree's
// new peaks in its head.
func (t *tx) PutAuditHashes(programmeID string, start int64, hashes []tlog.Hash) error {
	hs := make([][]byte, len(hashes))
	for i := range hashes {
		hs[i] = hashes[i][:]
	}
	t.queue(`INSERT INTO audit_hashes (programme_id, idx, hash)
		SELECT $1, $2 + ord - 1, hash FROM unnest($3::bytea[]) WITH ORDINALITY AS h (hash, ord)
		ON CONFLICT (programme_id, idx) DO UPDATE SET hash = excluded.hash`, programmeID, start, hs)
	if tp := t.known.appending[programmeID]; tp != nil && start == tlog.StoredHashIndex(0, tp.size) {
		if peaks, ok := tp.grown(hashes); ok {
			t.queue(`UPDATE log_heads SET tree_size = $3, tree_peaks = $4 WHERE programme_id = $1 AND log = $2`,
				programmeID, logAudit, tp.size+1, encodePeaks(peaks))
		}
	}
	delete(t.known.appending, programmeID)
	return nil
}

func (t *tx) AuditCheckpoints(programmeID string, afterSize int64, limit int) ([]*core.AuditCheckpoint, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	return list[core.AuditCheckpoint](t, "audit checkpoint",
		`SELECT data FROM audit_checkpoints WHERE programme_id = $1 AND size > $2 ORDER BY size LIMIT $3`, programmeID, afterSize, limit)
}

func (t *tx) LastAuditCheckpoint(programmeID string) (*core.AuditCheckpoint, error) {
	return get[core.AuditCheckpoint](t, "audit checkpoint",
		`SELECT data FROM audit_checkpoints WHERE programme_id = $1 ORDER BY size DESC LIMIT 1`, programmeID)
}

func (t *tx) InsertAuditCheckpoint(c *core.AuditCheckpoint) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO audit_checkpoints (programme_id, size, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		c.ProgrammeID, c.Size, data)
	if err == nil && n == 0 {
		return duplicate(core.UniqueAuditCheckpoint)
	}
	return err
}

func (t *tx) Outbox(programmeID string, userIDs []string, before uint64, limit int) ([]*core.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	below := int64(math.MaxInt64)
	if before > 0 {
		below = seqParam(before)
	}
	if userIDs == nil {
		return list[core.Message](t, "outbox message", `SELECT data FROM outbox
			WHERE programme_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, programmeID, below, limit)
	}
	return list[core.Message](t, "outbox message", `SELECT data FROM outbox
		WHERE programme_id = $1 AND seq < $2 AND user_id = ANY($3) ORDER BY seq DESC LIMIT $4`, programmeID, below, userIDs, limit)
}

func (t *tx) AppendOutbox(m *core.Message) error {
	seq, err := t.nextInLog(m.ProgrammeID, logOutbox)
	if err != nil {
		return err
	}
	m.Seq = seq
	return t.insertOutbox(m)
}

// insertOutbox stores m under its Seq, queued as insertAuditEvent is.
func (t *tx) insertOutbox(m *core.Message) error {
	data, err := encode(m)
	if err != nil {
		return err
	}
	t.queue(`INSERT INTO outbox (programme_id, seq, user_id, data) VALUES ($1, $2, $3, $4)`,
		m.ProgrammeID, seqParam(m.Seq), m.UserID, data)
	return nil
}

func (t *tx) Idempotency(key string) (*core.IdempotencyRecord, error) {
	return get[core.IdempotencyRecord](t, "idempotency record", `SELECT data FROM idempotency WHERE key = $1`, key)
}

func (t *tx) InsertIdempotency(r *core.IdempotencyRecord) error {
	return t.insertExpiring("idempotency", "key", r.Key, r.ExpiresAt, r, core.UniqueIdempotency)
}

func (t *tx) UpdateIdempotency(r *core.IdempotencyRecord) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE idempotency SET expires_at = $2, data = $3 WHERE key = $1`, r.Key, nanos(r.ExpiresAt), data)
	if err == nil && n == 0 {
		return notFound("idempotency record")
	}
	return err
}

func (t *tx) DeleteIdempotency(key string) error {
	return t.delete("idempotency record", `DELETE FROM idempotency WHERE key = $1`, key)
}

func (t *tx) DeleteIdempotencyExpired(before time.Time) (int, error) {
	return t.deleteExpired("idempotency", before)
}

func (t *tx) PasswordToken(tokenHash []byte) (*core.PasswordToken, error) {
	return get[core.PasswordToken](t, "password token", `SELECT data FROM password_tokens WHERE token_hash = $1`, tokenHash)
}

func (t *tx) InsertPasswordToken(pt *core.PasswordToken) error {
	return t.insertExpiring("password_tokens", "token_hash", pt.TokenHash, pt.ExpiresAt, pt, core.UniquePasswordToken)
}

func (t *tx) DeletePasswordToken(tokenHash []byte) error {
	return t.delete("password token", `DELETE FROM password_tokens WHERE token_hash = $1`, tokenHash)
}

func (t *tx) DeletePasswordTokensExpired(before time.Time) (int, error) {
	return t.deleteExpired("password_tokens", before)
}

func (t *tx) WebAuthnRegistration(sessionHash []byte) (*core.WebAuthnRegistration, error) {
	return get[core.WebAuthnRegistration](t, "WebAuthn registration",
		`SELECT data FROM webauthn_registrations WHERE session_hash = $1`, sessionHash)
}

func (t *tx) PutWebAuthnRegistration(r *core.WebAuthnRegistration) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO webauthn_registrations (session_hash, expires_at, data) VALUES ($1, $2, $3)
		ON CONFLICT (session_hash) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data`,
		r.SessionHash, nanos(r.ExpiresAt), data)
	return err
}

func (t *tx) DeleteWebAuthnRegistration(sessionHash []byte) error {
	return t.delete("WebAuthn registration", `DELETE FROM webauthn_registrations WHERE session_hash = $1`, sessionHash)
}

func (t *tx) DeleteWebAuthnRegistrationsExpired(before time.Time) (int, error) {
	return t.deleteExpired("webauthn_registrations", before)
}

// insertExpiring inserts the record v under key into a table of expiring
// records (key column, expires_at, data); a key already stored fails with
// constraint. table and keyColumn are names from this package, never input.
func (t *tx) insertExpiring(table, keyColumn string, key any, expiresAt time.Time, v any, constraint string) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO `+table+` (`+keyColumn+`, expires_at, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		key, nanos(expiresAt), data)
	if err == nil && n == 0 {
		return duplicate(constraint)
	}
	return err
}

// deleteExpired removes the records of a table of expiring records that
// expired before a time, and counts them.
func (t *tx) deleteExpired(table string, before time.Time) (int, error) {
	n, err := t.exec(`DELETE FROM `+table+` WHERE expires_at < $1`, nanos(before))
	return int(n), err
}

// IncrementCounter is one statement: concurrent increments of one key
// serialize on its row, and none is lost.
func (t *tx) IncrementCounter(key string, expiresAt, now time.Time) (int, error) {
	var n int
	err := t.scan("counter "+key, `INSERT INTO counters (key, count, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN counters.expires_at < $3 THEN 1 ELSE counters.count + 1 END,
			expires_at = excluded.expires_at
		RETURNING count`, []any{key, nanos(expiresAt), nanos(now)}, &n)
	return n, err
}

func (t *tx) Counter(key string, now time.Time) (int, time.Time, error) {
	var (
		n         int
		expiresAt int64
	)
	err := t.scan("counter "+key, `SELECT count, expires_at FROM counters WHERE key = $1 AND expires_at >= $2`,
		[]any{key, nanos(now)}, &n, &expiresAt)
	if err != nil {
		if isNotFound(err) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, err
	}
	return n, time.Unix(0, expiresAt).UTC(), nil
}

func (t *tx) SetCounter(key string, count int, expiresAt time.Time) error {
	_, err := t.exec(`INSERT INTO counters (key, count, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET count = excluded.count, expires_at = excluded.expires_at`, key, count, nanos(expiresAt))
	return err
}

func (t *tx) DeleteCountersExpired(before time.Time) (int, error) {
	return t.deleteExpired("counters", before)
}
