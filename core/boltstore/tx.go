package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// readTx is a core.ReadTx over a bbolt transaction.
type readTx struct {
	tx    *bolt.Tx
	cache *recordCaches
	// root and opened are the buckets opened so far: bbolt reopens a bucket on
	// every lookup in a read-only transaction, a B+tree seek each.
	root   *bolt.Bucket
	opened []openedBucket
}

type openedBucket struct {
	name   []byte
	bucket *bolt.Bucket
}

// writeTx is a core.Tx over a writable bbolt transaction. Every write checks
// its constraints before it changes anything, so a write that fails leaves the
// transaction as it was.
type writeTx struct{ readTx }

var (
	_ core.ReadTx = (*readTx)(nil)
	_ core.Tx     = (*writeTx)(nil)
)

// idBase makes NextID's ids nine digits or more, like real ids.
const idBase = 100_000_000

func (w *writeTx) NextID() (string, error) {
	seq, err := w.tx.Bucket(bucketRoot).NextSequence()
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(idBase+seq, 10), nil
}

func (r *readTx) Meta(key string) ([]byte, error) {
	// A cursor, not Get: Get cannot tell an empty value from a missing key.
	k, v := r.bucket(bucketMeta).Cursor().Seek([]byte(key))
	if k == nil || string(k) != key {
		return nil, notFound("meta " + key)
	}
	return append([]byte{}, v...), nil
}

func (w *writeTx) PutMeta(key string, value []byte) error {
	return w.bucket(bucketMeta).Put([]byte(key), bytes.Clone(value))
}

// appendedBuckets are the buckets that webhook delivery writes in batches
// of records whose keys follow those before them (ids that begin with a
// time or a sequence). bbolt splits a page it writes when it is half full,
// which leaves appended pages half empty: these are filled to appendedFill,
// which cut the pages a delivery round writes by a third (58 for 100 events
// to two endpoints, against 91), on the one writer the changes wait for.
var appendedBuckets = [][]byte{bucketWebhookEvents, bucketWebhookDeliveries, bucketEndpointDeliveries}

const appendedFill = 0.9

// bucket returns a sub-bucket of the root.
func (r *readTx) bucket(name []byte) *bolt.Bucket {
	for _, o := range r.opened {
		if bytes.Equal(o.name, name) {
			return o.bucket
		}
	}
	if r.root == nil {
		r.root = r.tx.Bucket(bucketRoot)
	}
	b := r.root.Bucket(name)
	if b != nil && r.tx.Writable() && slices.ContainsFunc(appendedBuckets, func(a []byte) bool { return bytes.Equal(a, name) }) {
		b.FillPercent = appendedFill
	}
	r.opened = append(r.opened, openedBucket{name: name, bucket: b})
	return b
}

// get decodes the record under key, or fails with ErrRecordNotFound naming what.
func get[T any](b *bolt.Bucket, key []byte, what string) (*T, error) {
	data := b.Get(key)
	if data == nil {
		return nil, notFound(what)
	}
	return decode[T](data, what)
}

// decode decodes a record into a new T, which shares no memory with data.
// Records are written by encoding/json; they are read with the faster
// encoding/json/v2 prototype in its v1-compatible mode (same format, about
// twice as fast, which is most of the cost of a page of users).
func decode[T any](data []byte, what string) (*T, error) {
	v := new(T)
	if err := jsonv2.Unmarshal(data, v, jsonv1.DefaultOptionsV1()); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

func put(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// withPrefix decodes the records of b whose keys start with prefix, in key order.
func withPrefix[T any](b *bolt.Bucket, prefix []byte, what string) ([]*T, error) {
	var vs []*T
	c := b.Cursor()
	for k, data := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, data = c.Next() {
		v, err := decode[T](data, what)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// prefixValues returns copies of the values of b whose keys start with prefix.
func prefixValues(b *bolt.Bucket, prefix []byte) [][]byte {
	var vs [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		vs = append(vs, bytes.Clone(v))
	}
	return vs
}

// match scans every record of b and returns the keys and records for which fn is true.
func match[T any](b *bolt.Bucket, what string, fn func(*T) bool) ([][]byte, []*T, error) {
	var (
		keys [][]byte
		vs   []*T
	)
	err := b.ForEach(func(k, data []byte) error {
		v, err := decode[T](data, what)
		if err != nil {
			return err
		}
		if fn(v) {
			keys, vs = append(keys, bytes.Clone(k)), append(vs, v)
		}
		return nil
	})
	return keys, vs, err
}

// firstMatches returns, in key order, up to limit records of b for which fn
// holds.
func firstMatches[T any](b *bolt.Bucket, what string, limit int, fn func(*T) bool) ([]*T, error) {
	var out []*T
	c := b.Cursor()
	for k, data := c.First(); k != nil && len(out) < limit; k, data = c.Next() {
		v, err := decode[T](data, what)
		if err != nil {
			return nil, err
		}
		if fn(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// deleteRecord deletes the record under key, or fails with ErrRecordNotFound naming what.
func deleteRecord(b *bolt.Bucket, key []byte, what string) error {
	if b.Get(key) == nil {
		return notFound(what)
	}
	return b.Delete(key)
}

// deleteKeys deletes the keys from b and counts them.
func deleteKeys(b *bolt.Bucket, keys [][]byte) (int, error) {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// compositeKey builds the key [parts...] of the package comment: each part
// preceded by its length as a uvarint.
func compositeKey(parts ...string) []byte {
	var k []byte
	for _, p := range parts {
		k = binary.AppendUvarint(k, uint64(len(p)))
		k = append(k, p...)
	}
	return k
}

// seqKey is the key of an audit event or outbox message.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// lastBefore steps back from where a Seek landed (k, nil at the end) to the
// entry before it, for reading newest first below a key.
func lastBefore(c *bolt.Cursor, k []byte) (key, value []byte) {
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, core.ErrRecordNotFound) }

// idTaken is the error of an insert whose primary key is already used.
func idTaken(what string) error { return fmt.Errorf("%s already exists: %w", what, core.ErrDuplicate) }

func duplicate(constraint string) error { return &core.DuplicateError{Constraint: constraint} }
