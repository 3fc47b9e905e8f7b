package pgstore_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/core/storetest"
	"github.com/deputyhq/deputy/internal/pgtest"
)

// connect opens a plain connection to the database at url, closed when t ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(t.Context()) })
	return conn
}

// applied returns the versions schema_migrations records.
func applied(t *testing.T, conn *pgx.Conn) []int {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

// allVersions is every version this build migrates to: 1, 2, ... SchemaVersion.
func allVersions() []int {
	vs := make([]int, pgstore.SchemaVersion())
	for i := range vs {
		vs[i] = i + 1
	}
	return vs
}

// TestMigration0001 checks the first migration: on an empty database it
// creates every table, and records every version; opening again changes nothing.
func TestMigration0001(t *testing.T) {
	url := pgtest.URL(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	conn := connect(t, url)
	assert.Equal(t, allVersions(), applied(t, conn))

	rows, err := conn.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = 'public' ORDER BY table_name`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{
		"audit_checkpoints", "audit_events", "audit_hashes", "bulk_operations", "bulks", "challenges", "confirmations", "counters", "device_presence", "email_codes", "factors",
		"idempotency", "identities", "invites", "kyc", "log_heads", "meta", "outbox", "password_tokens", "passwords",
		"programme_keys", "programmes", "push_challenges", "reset_codes", "resources", "schema_migrations", "sessions", "stepup_grants", "users",
		"webauthn_registrations", "webhook_deliveries", "webhook_endpoints", "webhook_events",
	}, tables)

	s, err = pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err, "open a database at the current version")
	require.NoError(t, s.Close())
	assert.Equal(t, allVersions(), applied(t, conn), "versions after opening again")
}

// TestNewerSchemaRefused: a database migrated by a newer build is refused,
// and left alone.
func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.URL(t)
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	conn := connect(t, url)
	newer := pgstore.SchemaVersion() + 1
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')`, newer)
	require.NoError(t, err)

	_, err = pgstore.Open(t.Context(), url, pgstore.Options{})
	var newerErr *pgstore.NewerSchemaError
	require.ErrorAs(t, err, &newerErr)
	assert.Equal(t, pgstore.NewerSchemaError{Database: newer, Known: pgstore.SchemaVersion()}, *newerErr)
	assert.ErrorContains(t, err, "newer than this deputy knows")
	assert.Len(t, applied(t, conn), newer, "versions after the refusal")
}

// TestReplicasMigrateOnce opens one empty database from several stores at
// once: the advisory lock lets one migrate, and the others find it done.
func TestReplicasMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), url, pgstore.Options{MaxConns: 2})
			if assert.NoError(t, err) {
				assert.NoError(t, s.Close())
			}
		})
	}
	wg.Wait()
	assert.Equal(t, allVersions(), applied(t, connect(t, url)))
}

// openMigrated opens the store at url, which migrates it to the latest
// version, and checks through conn that every migration is applied; the
// store closes when t ends.
func openMigrated(t *testing.T, url string, conn *pgx.Conn) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	assert.Equal(t, allVersions(), applied(t, conn))
	return s
}

// TestMigration0002 starts each webhook endpoint's fan-out cursor at its
// programme's audit log size: a database at version 1 with an endpoint in a
// programme whose log holds 3 events and one in a programme without a log
// gets cursors 3 and 0, the rest of each record unchanged.
func TestMigration0002(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 1))
	conn := connect(t, url)
	_, err := conn.Exec(t.Context(), `INSERT INTO log_heads (programme_id, log, last) VALUES ('p1', 'audit', 3), ('p1', 'outbox', 9)`)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `INSERT INTO webhook_endpoints (id, programme_id, data) VALUES
		('wh_1', 'p1', convert_to('{"ID":"wh_1","ProgrammeID":"p1","URL":"https://hooks.example/a","Events":["login"]}', 'UTF8')),
		('wh_2', 'p2', convert_to('{"ID":"wh_2","ProgrammeID":"p2","URL":"https://hooks.example/b"}', 'UTF8'))`)
	require.NoError(t, err)

	s := openMigrated(t, url, conn)
	require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
		e1, err := tx.WebhookEndpoint("wh_1")
		require.NoError(t, err)
		assert.Equal(t, uint64(3), e1.Fanned)
		assert.Equal(t, []string{"login"}, e1.Events)
		assert.Equal(t, "https://hooks.example/a", e1.URL)
		e2, err := tx.WebhookEndpoint("wh_2")
		require.NoError(t, err)
		assert.Zero(t, e2.Fanned)
		return nil
	}))
}

// TestMigration0003 brings a version 2 database holding a session to
// version 3: the step-up grants table exists, empty, and the session is kept.
func TestMigration0003(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 2))
	conn := connect(t, url)
	_, err := conn.Exec(t.Context(), `INSERT INTO sessions (token_hash, user_id, last_seen, data) VALUES ('\x01', '101', 0, '{"UserID":"101"}')`)
	require.NoError(t, err)

	openMigrated(t, url, conn)
	var grants, sessions int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM stepup_grants), (SELECT count(*) FROM sessions)`).Scan(&grants, &sessions))
	assert.Equal(t, []int{0, 1}, []int{grants, sessions})
}

// TestMigration0004 brings a version 3 database holding a meta value to
// version 4: the bulk tables exist, empty, and the value reads back.
func TestMigration0004(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 3))
	conn := connect(t, url)
	_, err := conn.Exec(t.Context(), `INSERT INTO meta (key, value) VALUES ('before', 'v3')`)
	require.NoError(t, err)

	s := openMigrated(t, url, conn)
	require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
		v, err := tx.Meta("before")
		assert.Equal(t, "v3", string(v))
		if err != nil {
			return err
		}
		_, err = tx.Bulk("100000001")
		assert.ErrorIs(t, err, core.ErrRecordNotFound)
		running, err := tx.RunningBulks(0)
		assert.Empty(t, running)
		return err
	}))
}

// TestMigration0005 brings a version 4 database holding an audit log of
// five events to version 5: its head has no tree peaks, the next append
// reads them from audit_hashes and keeps them in the head, and every append
// after that builds on those; the tree is the one tlog builds throughout.
func TestMigration0005(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 4))
	conn := connect(t, url)
	var want storetest.MemoryTree
	event := func(seq uint64) *core.AuditEvent {
		return &core.AuditEvent{Seq: seq, ProgrammeID: "p1", Action: "user.update", Subject: fmt.Sprint(seq), At: time.Unix(int64(seq), 0).UTC()}
	}
	for seq := uint64(1); seq <= 5; seq++ {
		require.NoError(t, want.Append(event(seq)))
	}
	for idx, h := range want {
		_, err := conn.Exec(t.Context(), `INSERT INTO audit_hashes (programme_id, idx, hash) VALUES ('p1', $1, $2)`, idx, h[:])
		require.NoError(t, err)
	}
	_, err := conn.Exec(t.Context(), `INSERT INTO log_heads (programme_id, log, last) VALUES ('p1', 'audit', 5)`)
	require.NoError(t, err)

	s := openMigrated(t, url, conn)
	var treeSize *int64
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT tree_size FROM log_heads WHERE programme_id = 'p1'`).Scan(&treeSize))
	assert.Nil(t, treeSize, "peaks before the first append")

	for seq := uint64(6); seq <= 16; seq++ {
		e := event(seq)
		e.Seq = 0 // AppendAudit numbers it
		require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
			return core.AddAuditLeaf(tx, e)
		}))
		require.Equal(t, seq, e.Seq)
		require.NoError(t, want.Append(e))
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT tree_size FROM log_heads WHERE programme_id = 'p1'`).Scan(&treeSize))
		require.NotNil(t, treeSize)
		assert.Equal(t, int64(seq), *treeSize)
		require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
			got, err := tlog.TreeHash(int64(seq), storetest.StoredTree{Tx: tx, ProgrammeID: "p1"})
			require.NoError(t, err)
			wantRoot, err := tlog.TreeHash(int64(seq), want)
			require.NoError(t, err)
			assert.Equal(t, wantRoot, got, "tree of %d leaves", seq)
			return nil
		}))
	}
}

// TestMigration0006 brings a version 5 database holding failed, delivered
// and pending deliveries to version 6: the failed ones, and only they, are
// found by failure time to the nanosecond, whatever the offset DoneAt was
// written with.
func TestMigration0006(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 5))
	conn := connect(t, url)
	doneAt := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	d := func(seq uint64, endpoint string, state core.WebhookDeliveryState, doneAt time.Time) *core.WebhookDelivery {
		return &core.WebhookDelivery{Seq: seq, ProgrammeID: "p1", EndpointID: endpoint, EventID: "evt", Subject: "101",
			State: state, CreatedAt: doneAt.Add(-time.Hour), DoneAt: doneAt}
	}
	failed := d(1, "wh_1", core.DeliveryFailed, doneAt)
	whole := d(2, "wh_1", core.DeliveryFailed, doneAt.Add(time.Hour).Truncate(time.Second).UTC())
	delivered := d(3, "wh_1", core.DeliveryDelivered, doneAt)
	pending := d(4, "wh_1", core.DeliveryPending, time.Time{})
	for _, x := range []*core.WebhookDelivery{failed, whole, delivered, pending} {
		data, err := json.Marshal(x)
		require.NoError(t, err)
		_, err = conn.Exec(t.Context(), `INSERT INTO webhook_deliveries (seq, endpoint_id, subject, pending, data)
			VALUES ($1, $2, $3, $4, $5)`, int64(x.Seq), x.EndpointID, x.Subject, x.State == core.DeliveryPending, data)
		require.NoError(t, err)
	}

	s := openMigrated(t, url, conn)
	require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
		for _, c := range []struct {
			since time.Time
			want  []uint64
		}{{doneAt, []uint64{1, 2}}, {doneAt.Add(1), []uint64{2}}, {whole.DoneAt, []uint64{2}}, {whole.DoneAt.Add(1), nil}} {
			ds, err := tx.FailedWebhookDeliveries("wh_1", c.since, 0, 10)
			if err != nil {
				return err
			}
			var got []uint64
			for _, d := range ds {
				got = append(got, d.Seq)
			}
			assert.Equal(t, c.want, got, "failed since %s", c.since.Format(time.RFC3339Nano))
		}
		return nil
	}))
}

// TestMigration0007 gives the confirmations stored before it their issue
// time, to the nanosecond and whatever its zone, so that the sweep deletes
// exactly those issued before its cut.
func TestMigration0007(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 6))
	conn := connect(t, url)
	issued := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	whole := issued.Add(time.Hour).Truncate(time.Second).UTC()
	for i, at := range []time.Time{issued, issued.Add(time.Nanosecond), whole} {
		data, err := json.Marshal(&core.Confirmation{ID: strconv.Itoa(900 + i), IssuedAt: at})
		require.NoError(t, err)
		_, err = conn.Exec(t.Context(), `INSERT INTO confirmations (id, data) VALUES ($1, $2)`, strconv.Itoa(900+i), data)
		require.NoError(t, err)
	}

	s := openMigrated(t, url, conn)
	var deleted []int
	for _, cut := range []time.Time{issued, issued.Add(time.Nanosecond), whole, whole.Add(time.Nanosecond)} {
		require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
			n, err := tx.DeleteConfirmationsIssuedBefore(cut)
			deleted = append(deleted, n)
			return err
		}))
	}
	assert.Equal(t, []int{0, 1, 1, 1}, deleted, "confirmations deleted at each cut")
}

// TestMigration0008 lists the confirmations pending before it by their
// expiry, to the nanosecond and whatever its zone, and leaves out those
// that had ended.
func TestMigration0008(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 7))
	conn := connect(t, url)
	expires := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	for i, c := range []core.Confirmation{
		{ID: "920", ExpiresAt: expires, State: core.ChallengePending},
		{ID: "921", ExpiresAt: expires.Add(time.Nanosecond), State: core.ChallengePending},
		{ID: "922", ExpiresAt: expires.Add(-time.Hour), State: core.ChallengeVerified},
	} {
		data, err := json.Marshal(&c)
		require.NoError(t, err)
		_, err = conn.Exec(t.Context(), `INSERT INTO confirmations (id, issued_at, data) VALUES ($1, $2, $3)`, c.ID, int64(i), data)
		require.NoError(t, err)
	}

	s := openMigrated(t, url, conn)
	var listed [][]string
	for _, at := range []time.Time{expires.Add(-time.Nanosecond), expires, expires.Add(time.Nanosecond)} {
		require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
			l, err := tx.ConfirmationsExpiredPending(at, 10)
			ids := []string{}
			for _, c := range l {
				ids = append(ids, c.ID)
			}
			listed = append(listed, ids)
			return err
		}))
	}
	assert.Equal(t, [][]string{{}, {"920"}, {"920", "921"}}, listed, "pending confirmations expired at each time")
}

// TestMigration0009 keeps the messages stored before it for the secret key
// only (they name no user), and reads those after it per user.
func TestMigration0009(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 8))
	conn := connect(t, url)
	data, err := json.Marshal(&core.Message{Seq: 1, ProgrammeID: "p1", Channel: "SMS", To: "+447700900123", Text: "before"})
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `INSERT INTO outbox (programme_id, seq, recipient, data) VALUES ('p1', 1, '+447700900123', $1)`, data)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `INSERT INTO log_heads (programme_id, log, last) VALUES ('p1', 'outbox', 1)`)
	require.NoError(t, err)

	s := openMigrated(t, url, conn)
	after := &core.Message{ProgrammeID: "p1", Recipient: core.Recipient{UserID: "101"}, Channel: "SMS", To: "+447700900123", Text: "after"}
	require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error { return tx.AppendOutbox(after) }))
	texts := func(users ...string) []string {
		var out []string
		require.NoError(t, s.View(t.Context(), func(tx core.ReadTx) error {
			ms, err := tx.Outbox("p1", users, 0, 10)
			for _, m := range ms {
				out = append(out, m.Text)
			}
			return err
		}))
		return out
	}
	assert.Equal(t, []string{"after", "before"}, texts(), "the secret key's view")
	assert.Equal(t, []string{"after"}, texts("101"), "the user's view")
	assert.Empty(t, texts("102"))
}

// TestMigration0010 checks the table of device presence: a device seen on
// a database migrated from 0009 is seen, and the latest time wins.
func TestMigration0010(t *testing.T) {
	url := pgtest.URL(t)
	require.NoError(t, pgstore.MigrateTo(t.Context(), url, 9))
	conn := connect(t, url)
	s := openMigrated(t, url, conn)
	seen, err := s.DeviceLastSeen(t.Context(), "101")
	require.NoError(t, err)
	assert.True(t, seen.IsZero(), "never seen")
	t0 := time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC)
	require.NoError(t, s.DeviceSeen(t.Context(), "101", t0.Add(time.Second)))
	require.NoError(t, s.DeviceSeen(t.Context(), "101", t0)) // an older report, late
	seen, err = s.DeviceLastSeen(t.Context(), "101")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Second), seen)
}
