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
type tx struct {
	// ctx is the context of the Update or View the transaction belongs to:
	// core.Tx's methods take none, and tx lives no longer than that call.
	ctx context.Context
	tx  pgx.Tx
	// retry is the first failure to serialize (or deadlock) a statement met:
	// the transaction is lost whatever fn makes of it, and Update runs fn again.
	retry error
}

var (
	_ core.ReadTx = (*tx)(nil)
	_ core.Tx     = (*tx)(nil)
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
// *core.DuplicateError naming the constraint.
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
	return storeError(err)
}

// exec runs a statement and returns how many rows it touched.
func (t *tx) exec(sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	return tag.RowsAffected(), t.failed(err)
}

// scan runs a query of one row into dest; no row is ErrRecordNotFound naming what.
func (t *tx) scan(what, sql string, args []any, dest ...any) error {
	err := t.tx.QueryRow(t.ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what)
	}
	return t.failed(err)
}

// column runs a query of one column and returns its values.
func column[T any](t *tx, sql string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.failed(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[T])
	return vs, t.failed(err)
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
