package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deputyhq/deputy/core"
)

var (
	_ core.Exporter = (*Store)(nil)
	_ core.Importer = (*Store)(nil)
)

// Export walks every record of the database from one snapshot (a
// REPEATABLE READ, READ ONLY transaction), kind by kind (core.Exporter).
func (s *Store) Export(ctx context.Context, fn func(core.Record) error) error {
	return s.view(ctx, func(t *tx) error {
		return t.export(fn)
	})
}

// Import fills an empty database in one SERIALIZABLE transaction
// (core.Importer); a replica writing meanwhile makes it fail, not mix. The
// records go in through the Tx writers, which fill the key columns and
// indexes, except those that carry a number the store hands out (audit
// events, outbox messages, webhook deliveries): they keep theirs, and the
// sequences are set to the source's.
func (s *Store) Import(ctx context.Context, load core.Walk, check func(core.Walk) error) error {
	return s.once(ctx, func(t *tx) error {
		if err := t.requireEmpty(); err != nil {
			return err
		}
		if err := load(t.load); err != nil {
			return err
		}
		return check(t.export)
	})
}

// kindCopy reads and writes one kind of record.
type kindCopy struct {
	// relations are the tables and sequences the kind is kept in.
	relations []string
	export    func(t *tx, emit func(any) error) error
	load      func(t *tx, v any) error
}

// kinds holds every kind's copy; the tables no kind names are derived from
// the others (programme_keys) or the schema's own (schema_migrations).
var kinds = map[core.RecordKind]kindCopy{
	core.KindMeta:                  {[]string{"meta"}, exportMeta, loads((*tx).loadMeta)},
	core.KindProgrammes:            jsonKind[core.Programme]("programmes", "id", (*tx).InsertProgramme),
	core.KindIdentities:            {[]string{"identities"}, exportIdentities, loads((*tx).InsertIdentity)},
	core.KindUsers:                 jsonKind[core.User]("users", "id", (*tx).InsertUser),
	core.KindPasswords:             jsonKind[core.PasswordRecord]("passwords", "user_id", (*tx).PutPassword),
	core.KindSessions:              jsonKind[core.Session]("sessions", "token_hash", (*tx).InsertSession),
	core.KindResetCodes:            jsonKind[core.ResetCode]("reset_codes", "user_id", (*tx).PutResetCode),
	core.KindInvites:               jsonKind[core.Invite]("invites", "user_id", (*tx).PutInvite),
	core.KindEmailCodes:            jsonKind[core.EmailCode]("email_codes", "user_id", (*tx).PutEmailCode),
	core.KindKYC:                   jsonKind[core.KYC]("kyc", "user_id", (*tx).PutKYC),
	core.KindFactors:               jsonKind[core.Factor]("factors", "user_id, channel", (*tx).PutFactor),
	core.KindChallenges:            jsonKind[core.Challenge]("challenges", "session_hash, purpose", (*tx).PutChallenge),
	core.KindAuditEvents:           jsonKind[core.AuditEvent]("audit_events", "programme_id, seq", (*tx).insertAuditEvent),
	core.KindAuditHashes:           {[]string{"audit_hashes"}, exportAuditHashes, loads((*tx).loadAuditHash)},
	core.KindAuditCheckpoints:      jsonKind[core.AuditCheckpoint]("audit_checkpoints", "programme_id, size", (*tx).InsertAuditCheckpoint),
	core.KindIdempotency:           jsonKind[core.IdempotencyRecord]("idempotency", "key", (*tx).InsertIdempotency),
	core.KindOutbox:                jsonKind[core.Message]("outbox", "programme_id, seq", (*tx).insertOutbox),
	core.KindPasswordTokens:        jsonKind[core.PasswordToken]("password_tokens", "token_hash", (*tx).InsertPasswordToken),
	core.KindCounters:              {[]string{"counters"}, exportCounters, loads((*tx).loadCounter)},
	core.KindPushChallenges:        jsonKind[core.PushChallenge]("push_challenges", "id", (*tx).InsertPushChallenge),
	core.KindWebAuthnRegistrations: jsonKind[core.WebAuthnRegistration]("webauthn_registrations", "session_hash", (*tx).PutWebAuthnRegistration),
	core.KindWebhookEndpoints:      jsonKind[core.WebhookEndpoint]("webhook_endpoints", "id", (*tx).PutWebhookEndpoint),
	core.KindWebhookEvents:         jsonKind[core.WebhookEvent]("webhook_events", "id", (*tx).InsertWebhookEvent),
	core.KindWebhookDeliveries:     jsonKind[core.WebhookDelivery]("webhook_deliveries", "seq", (*tx).insertWebhookDelivery),
	core.KindResources:             jsonKind[core.Resource]("resources", "programme_id, type, id", (*tx).PutResource),
	core.KindConfirmations:         jsonKind[core.Confirmation]("confirmations", "id", (*tx).PutConfirmation),
	core.KindStepUpGrants:          jsonKind[core.StepUpGrant]("stepup_grants", "session_hash", (*tx).PutStepUpGrant),
	core.KindBulks:                 jsonKind[core.Bulk]("bulks", "ord", (*tx).insertBulk),
	core.KindBulkOperations:        jsonKind[core.BulkOperation]("bulk_operations", "bulk_id, seq", (*tx).insertBulkOperation),
	core.KindSequences:             {[]string{"log_heads", "ids", "webhook_delivery_seq"}, exportSequences, loads((*tx).loadSequence)},
}

// jsonKind is the copy of a kind kept whole in the data column of table, in
// the order of the key columns order, and written by put.
func jsonKind[T any](table, order string, put func(*tx, *T) error) kindCopy {
	return kindCopy{
		relations: []string{table},
		export: func(t *tx, emit func(any) error) error {
			return eachRow(t, `SELECT data FROM `+table+` ORDER BY `+order, func(row pgx.CollectableRow) error {
				var b []byte
				if err := row.Scan(&b); err != nil {
					return err
				}
				v, err := decode[T](b, table)
				if err != nil {
					return err
				}
				return emit(v)
			})
		},
		load: loads(put),
	}
}

// loads turns a writer of *T into a writer of a record's Value.
func loads[T any](put func(*tx, *T) error) func(*tx, any) error {
	return func(t *tx, v any) error {
		r, ok := v.(*T)
		if !ok {
			return fmt.Errorf("a %T where a %T belongs", v, r)
		}
		return put(t, r)
	}
}

// eachRow runs a query and calls fn with each row as it arrives.
func eachRow(t *tx, sql string, fn func(pgx.CollectableRow) error) error {
	return t.query(sql, nil, func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// export walks every kind in the transaction.
func (t *tx) export(fn func(core.Record) error) error {
	for _, kind := range core.RecordKinds() {
		k, ok := kinds[kind]
		if !ok {
			return fmt.Errorf("pgstore cannot export %s records", kind)
		}
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if err := k.export(t, func(v any) error { return fn(core.Record{Kind: kind, Value: v}) }); err != nil {
			return fmt.Errorf("export %s: %w", kind, err)
		}
	}
	return nil
}

// load writes one record.
func (t *tx) load(r core.Record) error {
	k, ok := kinds[r.Kind]
	if !ok {
		return fmt.Errorf("pgstore cannot import %s records", r.Kind)
	}
	if err := k.load(t, r.Value); err != nil {
		return fmt.Errorf("import %s: %w", r.Kind, err)
	}
	return nil
}

// requireEmpty fails with core.ErrNotEmpty, naming the first kind it
// finds, when the database holds any record.
func (t *tx) requireEmpty() error {
	var found core.RecordKind
	err := t.export(func(r core.Record) error {
		found = r.Kind
		return errFound
	})
	if errors.Is(err, errFound) {
		return fmt.Errorf("%w: it holds %s records", core.ErrNotEmpty, found)
	}
	return err
}

var errFound = errors.New("found a record")

func exportMeta(t *tx, emit func(any) error) error {
	return eachRow(t, `SELECT key, value FROM meta ORDER BY key`, func(row pgx.CollectableRow) error {
		m := &core.MetaEntry{}
		if err := row.Scan(&m.Key, &m.Value); err != nil {
			return err
		}
		if m.Value == nil {
			m.Value = []byte{}
		}
		return emit(m)
	})
}

func (t *tx) loadMeta(m *core.MetaEntry) error { return t.PutMeta(m.Key, m.Value) }

func exportIdentities(t *tx, emit func(any) error) error {
	return eachRow(t, `SELECT data FROM identities ORDER BY id`, func(row pgx.CollectableRow) error {
		var b []byte
		if err := row.Scan(&b); err != nil {
			return err
		}
		rec, err := decode[identityRecord](b, "identity")
		if err != nil {
			return err
		}
		rec.Identity.Profile = rec.Profile
		return emit(rec.Identity)
	})
}

func exportAuditHashes(t *tx, emit func(any) error) error {
	return eachRow(t, `SELECT programme_id, idx, hash FROM audit_hashes ORDER BY programme_id, idx`, func(row pgx.CollectableRow) error {
		h := &core.AuditHash{}
		var hash []byte
		if err := row.Scan(&h.ProgrammeID, &h.Index, &hash); err != nil {
			return err
		}
		if len(hash) != len(h.Hash) {
			return fmt.Errorf("programme %s: a malformed audit tree hash", h.ProgrammeID)
		}
		copy(h.Hash[:], hash)
		return emit(h)
	})
}

func (t *tx) loadAuditHash(h *core.AuditHash) error {
	_, err := t.exec(`INSERT INTO audit_hashes (programme_id, idx, hash) VALUES ($1, $2, $3)`, h.ProgrammeID, h.Index, h.Hash[:])
	return err
}

func exportCounters(t *tx, emit func(any) error) error {
	return eachRow(t, `SELECT key, count, expires_at FROM counters ORDER BY key`, func(row pgx.CollectableRow) error {
		c := &core.CounterEntry{}
		var expiresAt int64
		if err := row.Scan(&c.Key, &c.Count, &expiresAt); err != nil {
			return err
		}
		c.ExpiresAt = time.Unix(0, expiresAt).UTC()
		return emit(c)
	})
}

func (t *tx) loadCounter(c *core.CounterEntry) error {
	return t.SetCounter(c.Key, c.Count, c.ExpiresAt)
}

// exportSequences reads the two sequences (left out until they hand out a
// number) and the heads of the per-programme logs. A sequence's last number
// is last_value once nextval returned it, and the one before until then
// (after a RESTART, which loadSequence uses).
func exportSequences(t *tx, emit func(any) error) error {
	return eachRow(t, `SELECT name, '', last FROM (
			SELECT 'ids' AS name, CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS last FROM ids
			UNION ALL
			SELECT 'webhook_deliveries', CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM webhook_delivery_seq
		) AS s WHERE last > 0
		UNION ALL SELECT log, programme_id, last FROM log_heads`, func(row pgx.CollectableRow) error {
		s := &core.Sequence{}
		var last int64
		if err := row.Scan(&s.Name, &s.ProgrammeID, &last); err != nil {
			return err
		}
		s.Last = uint64(last)
		return emit(s)
	})
}

// loadSequence sets a sequence. ALTER SEQUENCE ... RESTART, unlike setval,
// is undone with the transaction, so a failed import leaves no trace.
func (t *tx) loadSequence(s *core.Sequence) error {
	if s.Last >= math.MaxInt64 {
		return fmt.Errorf("sequence %s %s: %d is past PostgreSQL's bigint", s.Name, s.ProgrammeID, s.Last)
	}
	var err error
	switch s.Name {
	case core.SequenceIDs:
		_, err = t.exec(fmt.Sprintf(`ALTER SEQUENCE ids RESTART WITH %d`, s.Last+1))
	case core.SequenceWebhookDeliveries:
		_, err = t.exec(fmt.Sprintf(`ALTER SEQUENCE webhook_delivery_seq RESTART WITH %d`, s.Last+1))
	case core.SequenceAudit, core.SequenceOutbox:
		_, err = t.exec(`INSERT INTO log_heads (programme_id, log, last) VALUES ($1, $2, $3)`, s.ProgrammeID, s.Name, int64(s.Last))
	default:
		return fmt.Errorf("no sequence %q", s.Name)
	}
	return err
}
