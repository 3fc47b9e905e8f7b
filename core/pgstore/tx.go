package pgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deputyhq/deputy/core"
)

// tx is a core.Tx (and, in a View, a core.ReadTx) over one PostgreSQL
// transaction. Every write checks its constraints before it changes anything
// (in the statement itself or in a read before it), so a write that fails
// with ErrDuplicate or ErrRecordNotFound leaves the transaction usable and as
// it was; the unique indexes stay the truth when concurrent transactions race.
//
// Round trips are what a transaction costs most, on both sides: the BEGIN
// goes out with the first statement, and the writes that cannot fail on a
// constraint and whose outcome fn does not wait for (an audit event and its
// tree hashes, a write to a row the transaction read) are queued and go out
// with the next statement or the COMMIT, in one pipeline (a pgx batch). A
// transaction in which fn ran nothing sends nothing.
type tx struct {
	// ctx is the context of the Update or View the transaction belongs to:
	// core.Tx's methods take none, and tx lives no longer than that call.
	ctx  context.Context
	conn *pgx.Conn
	// parked is whether the connection is still in the transaction of a
	// View, whose COMMIT goes ahead of the first statement (park.go).
	parked bool
	// begin opens the transaction, sent ahead of its first statement; ""
	// once sent.
	begin string
	// queued are the writes to send ahead of the next statement.
	queued []queuedWrite
	// retry is the first failure to serialize (or deadlock) a statement met:
	// the transaction is lost whatever fn makes of it, and Update runs fn again.
	retry error
	// logs are the lock keys of the logs the transaction appended to
	// (logs.go); locked are those conn holds, released with the commit.
	logs, locked []int32
	// carried is how many of queued, from their start, an earlier function
	// sharing the transaction queued (turns.go); flushing, whether the
	// statements in flight carry some; carriedErr, the failure of a batch
	// that carried some: whose write failed is unknown, so the shared
	// transaction fails as a whole and each function runs again alone.
	carried    int
	flushing   bool
	carriedErr error
	// update is whether the transaction is an Update's, which may write.
	update bool
	// deliverySeqs are seqs the transaction took from webhook_delivery_seq
	// and has not given a delivery yet (AppendWebhookDelivery).
	deliverySeqs []int64
	// known is what the transaction's queries brought along (readahead.go).
	known readAhead
}

// updateTx is the transaction of an Update on conn, which holds the log
// locks in locked.
func updateTx(ctx context.Context, conn *pgx.Conn, locked []int32) *tx {
	return &tx{ctx: ctx, conn: conn, begin: beginUpdate, update: true, locked: locked}
}

// queuedWrite is a statement whose result nobody reads unless it fails.
type queuedWrite struct {
	sql  string
	args []any
}

var (
	_ core.ReadTx            = (*tx)(nil)
	_ core.Tx                = (*tx)(nil)
	_ core.SessionPrefetcher = (*tx)(nil)
)

// constraints maps the unique constraints of the schema to core's names.
var constraints = map[string]string{
	"programmes_name_key":       core.UniqueProgrammeName,
	"programme_keys_pkey":       core.UniqueKeyHash,
	"users_root_email":          core.UniqueRootEmail,
	"users_identity_email":      core.UniqueIdentityEmail,
	"idempotency_pkey":          core.UniqueIdempotency,
	"password_tokens_pkey":      core.UniquePasswordToken,
	"factors_credential_id_key": core.UniqueCredentialID,
	"audit_checkpoints_pkey":    core.UniqueAuditCheckpoint,
	"kyc_reference_key":         core.UniqueKYCReference,
}

// failed notes a failure to serialize and maps err to core's errors: a
// unique violation (23505) a concurrent transaction caused is a
// *core.DuplicateError naming the constraint; a lost connection is
// core.ErrUnreachable.
func (t *tx) failed(err error) error {
	if err == nil {
		return nil
	}
	if retryable(err) && t.retry == nil {
		t.retry = err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		if c, ok := constraints[pgErr.ConstraintName]; ok {
			return &core.DuplicateError{Constraint: c}
		}
		return fmt.Errorf("%s: %w", pgErr.ConstraintName, core.ErrDuplicate)
	}
	if t.conn.IsClosed() {
		return unreachable(t.ctx, err)
	}
	return storeError(err)
}

// queue adds a write to send ahead of the next statement (or the commit):
// only for writes no constraint can refuse, as a failure surfaces there.
func (t *tx) queue(sql string, args ...any) {
	t.queued = append(t.queued, queuedWrite{sql, args})
}

// ahead takes what is to be sent before the next statement: a batch of the
// BEGIN and the queued writes, or nil when there is none.
func (t *tx) ahead() *pgx.Batch {
	if !t.parked && t.begin == "" && len(t.queued) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	t.flushing, t.carried = t.carried > 0, 0
	if t.parked {
		b.Queue("COMMIT")
		t.parked = false
	}
	if t.begin != "" {
		b.Queue(t.begin)
		t.begin = ""
	}
	for _, q := range t.queued {
		b.Queue(q.sql, q.args...)
	}
	t.queued = nil
	return b
}

// send sends b and reads the results of its first n statements (what ahead
// put in), then hands the batch's results to read for the rest.
func (t *tx) send(b *pgx.Batch, n int, read func(pgx.BatchResults) error) error {
	br := t.conn.SendBatch(t.ctx, b)
	var err error
	for range n {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		err = read(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil && t.flushing && t.carriedErr == nil {
		t.carriedErr = err
	}
	t.flushing = false
	return err
}

// exec runs a statement and returns how many rows it touched.
func (t *tx) exec(sql string, args ...any) (int64, error) {
	var tag pgconn.CommandTag
	var err error
	if b := t.ahead(); b == nil {
		tag, err = t.conn.Exec(t.ctx, sql, args...)
	} else {
		n := b.Len()
		b.Queue(sql, args...)
		err = t.send(b, n, func(br pgx.BatchResults) (err error) {
			tag, err = br.Exec()
			return err
		})
	}
	return tag.RowsAffected(), t.failed(err)
}

// query runs a query and hands its rows to read, which closes them.
func (t *tx) query(sql string, args []any, read func(pgx.Rows) error) error {
	b := t.ahead()
	if b == nil {
		rows, err := t.conn.Query(t.ctx, sql, args...)
		if err == nil {
			err = read(rows)
		}
		return t.failed(err)
	}
	n := b.Len()
	b.Queue(sql, args...)
	return t.failed(t.send(b, n, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return read(rows)
	}))
}

// scan runs a query of one row into dest; no row is ErrRecordNotFound naming what.
func (t *tx) scan(what, sql string, args []any, dest ...any) error {
	err := t.query(sql, args, func(rows pgx.Rows) error {
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what)
	}
	return err
}

// column runs a query of one column and returns its values.
func column[T any](t *tx, sql string, args ...any) ([]T, error) {
	var vs []T
	err := t.query(sql, args, func(rows pgx.Rows) (err error) {
		vs, err = pgx.CollectRows(rows, pgx.RowTo[T])
		return err
	})
	return vs, err
}

// commit sends the queued writes and COMMIT, and with them the release of
// the log locks the connection holds (which, should it fail, release retries);
// a transaction that sent nothing has nothing to commit.
func (t *tx) commit() error {
	if t.begin != "" && len(t.queued) == 0 {
		return nil
	}
	b := t.ahead()
	if b == nil {
		b = &pgx.Batch{}
	}
	n := b.Len()
	b.Queue("COMMIT")
	if len(t.locked) > 0 {
		b.Queue(`SELECT pg_advisory_unlock_all()`)
	}
	br := t.conn.SendBatch(t.ctx, b)
	defer br.Close()
	for range n {
		if _, err := br.Exec(); err != nil {
			return t.failed(err)
		}
	}
	tag, err := br.Exec()
	if err != nil {
		return t.failed(err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: PostgreSQL answered %s", tag)
	}
	if len(t.locked) > 0 {
		if _, err := br.Exec(); err == nil {
			t.locked = nil
		}
	}
	return nil
}

// get decodes the record (the data column) of a query of one row.
func get[T any](t *tx, what, sql string, args ...any) (*T, error) {
	var data []byte
	if err := t.scan(what, sql, args, &data); err != nil {
		return nil, err
	}
	return decode[T](data, what)
}

// list decodes the records (the data column) of a query, in its order.
func list[T any](t *tx, what, sql string, args ...any) ([]*T, error) {
	datas, err := column[[]byte](t, sql, args...)
	if err != nil {
		return nil, err
	}
	vs := make([]*T, 0, len(datas))
	for _, data := range datas {
		v, err := decode[T](data, what)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// encode is how records are stored: encoding/json, as the bbolt store does.
func encode(v any) ([]byte, error) { return json.Marshal(v) }

// decode decodes a record with encoding/json/v2's v1-compatible mode (the
// same format, faster).
func decode[T any](data []byte, what string) (*T, error) {
	v := new(T)
	if err := jsonv2.Unmarshal(data, v, jsonv1.DefaultOptionsV1()); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// nanos is t as Unix nanoseconds, the form of the time columns, which sort
// and compare as the times do; times beyond int64's range (the zero time,
// say) are clamped to its ends.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// ord is an id in the form the ord columns hold, which sorts ids as NextID
// hands them out: a decimal id that fits in a uint64 is 0x00 and the number
// as 8 big-endian bytes; any other id is 0x01 and its bytes, after every
// numeric one.
func ord(id string) []byte {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && strconv.FormatUint(n, 10) == id {
		return binary.BigEndian.AppendUint64([]byte{0}, n)
	}
	return append([]byte{1}, id...)
}

// nullBytes is b, or NULL when it is empty.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString is s, or NULL when it is empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, core.ErrRecordNotFound) }

// idTaken is the error of an insert whose primary key is already used.
func idTaken(what string) error { return fmt.Errorf("%s already exists: %w", what, core.ErrDuplicate) }

func duplicate(constraint string) error { return &core.DuplicateError{Constraint: constraint} }

// idBase makes NextID's ids nine digits or more, like real ids (and the bbolt store's).
const idBase = 100_000_000

func (t *tx) NextID() (string, error) {
	var n int64
	if err := t.scan("id sequence", `SELECT nextval('ids')`, nil, &n); err != nil {
		return "", err
	}
	return strconv.FormatInt(idBase+n, 10), nil
}

func (t *tx) Meta(key string) ([]byte, error) {
	var v []byte
	if err := t.scan("meta "+key, `SELECT value FROM meta WHERE key = $1`, []any{key}, &v); err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *tx) PutMeta(key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := t.exec(`INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func isNotFound(err error) bool { return errors.Is(err, core.ErrRecordNotFound) }
