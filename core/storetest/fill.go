package storetest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

// Fill writes records of every kind (core.RecordKinds), the suite's fixtures,
// into an empty store: the source of a copy's test. RequireFilled checks
// that a store answers as a filled one does.
func Fill(t *testing.T, s core.Store) {
	t.Helper()
	mustUpdate(t, s, func(tx core.Tx) error {
		for range 3 {
			if _, err := tx.NextID(); err != nil {
				return err
			}
		}
		writes := []func() error{
			func() error { return tx.PutMeta("hash-key", []byte("0123456789abcdef")) },
			func() error { return tx.PutMeta("empty", []byte{}) },
			func() error { return tx.InsertProgramme(programme("p1", "Alpha")) },
			func() error { return tx.InsertProgramme(programme("p2", "Beta")) },
			func() error { return tx.InsertIdentity(identity("101", "p1")) },
			func() error { return tx.InsertIdentity(identity("201", "p1")) },
			func() error { return tx.InsertUser(root101()) },
			func() error { return tx.InsertUser(ann101()) },
			func() error { return tx.InsertUser(root201()) },
			func() error {
				return tx.PutPassword(&core.PasswordRecord{UserID: "101", Hash: "$argon2id$second", History: []string{"$argon2id$first"}, SetAt: t0})
			},
			func() error { return tx.InsertSession(session("token-1", "101", t0)) },
			func() error { return tx.InsertSession(session("token-2", "102", t0)) },
			func() error {
				return tx.PutResetCode(&core.ResetCode{UserID: "102", Nonce: "n0", CodeHash: []byte("reset"), ExpiresAt: t0, Attempts: 1})
			},
			func() error { return tx.PutInvite(invite("102", "n1")) },
			func() error { return tx.PutEmailCode(emailCode("102", "n2")) },
			func() error { return tx.PutKYC(kyc("101", "1001")) },
			func() error { return tx.PutFactor(factor("101", core.ChannelSMS)) },
			func() error { return tx.PutFactor(factor("102", core.ChannelBiometric)) },
			func() error { return tx.PutChallenge(challenge("token-1", core.PurposeStepUpSMS, t0)) },
			func() error {
				return tx.InsertAuditCheckpoint(&core.AuditCheckpoint{ProgrammeID: "p1", Size: 3, Note: []byte("note"), At: t0})
			},
			func() error {
				r := idempotency("k1", t0.Add(24*time.Hour))
				r.Done, r.Status, r.Body = true, 200, []byte(`{"id":"101"}`)
				return tx.InsertIdempotency(r)
			},
			func() error { return tx.AppendOutbox(message("p1", 1)) },
			func() error { return tx.AppendOutbox(message("p1", 2)) },
			func() error { return tx.AppendOutbox(message("p2", 3)) },
			func() error { return tx.InsertPasswordToken(passwordToken("pt-1", t0.Add(time.Hour))) },
			func() error {
				_, err := tx.IncrementCounter("login:ann", t0.Add(time.Hour), t0)
				return err
			},
			func() error {
				_, err := tx.IncrementCounter("login:ann", t0.Add(time.Hour), t0)
				return err
			},
			func() error { return tx.InsertPushChallenge(pushChallenge("900", "101", t0)) },
			func() error {
				c := pushChallenge("901", "102", t0)
				c.State, c.Reason, c.ResolvedAt, c.ApprovedAt = core.PushPending, "", time.Time{}, time.Time{}
				return tx.InsertPushChallenge(c)
			},
			func() error { return tx.PutWebAuthnRegistration(webAuthnRegistration("token-2", t0.Add(time.Hour))) },
			func() error { return tx.PutWebhookEndpoint(webhookEndpoint("p1", "we_1")) },
			func() error {
				return tx.InsertWebhookEvent(&core.WebhookEvent{ID: "evt_1", ProgrammeID: "p1", Type: "login", Subject: "101", Body: json.RawMessage(`{"a":1}`), At: t0})
			},
			func() error {
				return tx.AppendWebhookDelivery(&core.WebhookDelivery{ProgrammeID: "p1", EndpointID: "we_1", EventID: "evt_1", Subject: "101",
					State: core.DeliveryDelivered, Attempts: 1, LastStatus: 204, CreatedAt: t0, DoneAt: t0.Add(time.Second)})
			},
			func() error {
				return tx.AppendWebhookDelivery(&core.WebhookDelivery{ProgrammeID: "p1", EndpointID: "we_1", EventID: "evt_1", Subject: "101",
					State: core.DeliveryPending, NextAt: t0.Add(time.Minute), CreatedAt: t0})
			},
			func() error { return tx.PutResource(resource("p1", core.ResourceSends, "7")) },
			func() error { return tx.PutConfirmation(confirmation("900")) },
			func() error { return tx.PutStepUpGrant(stepUpGrant("token-1", "op-a", t0.Add(time.Hour))) },
			func() error { return tx.InsertBulk(bulk("500", "101", core.BulkRunning, 2)) },
		}
		for _, w := range writes {
			if err := w(); err != nil {
				return err
			}
		}
		for _, e := range []*core.AuditEvent{auditEvent("p1", 1), auditEvent("p2", 2), auditEvent("p1", 3),
			auditEvent("p1", 4), auditEvent("p2", 5), auditEvent("p1", 6), auditEvent("p1", 7)} {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
			if err := core.AddAuditLeaf(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func filledBulk() *core.Bulk { b, _ := bulk("500", "101", core.BulkRunning, 2); return b }
func filledBulkOps() []*core.BulkOperation {
	_, ops := bulk("500", "101", core.BulkRunning, 2)
	return ops
}

// RequireFilled checks that s answers as a store Fill filled: its records,
// found through every index, the audit trees' roots those of their events,
// and its sequences going on where Fill left them.
func RequireFilled(t *testing.T, s core.Store) {
	t.Helper()
	type answer struct {
		name string
		got  func(tx core.ReadTx) (any, error)
		want any
	}
	one := func(v any, err error) (any, error) { return v, err }
	ids := func(us []*core.User, _ int, err error) (any, error) {
		var got []string
		for _, u := range us {
			got = append(got, u.ID)
		}
		return got, err
	}
	answers := []answer{
		{"Meta", func(tx core.ReadTx) (any, error) { return one(tx.Meta("hash-key")) }, []byte("0123456789abcdef")},
		{"empty Meta", func(tx core.ReadTx) (any, error) { return one(tx.Meta("empty")) }, []byte{}},
		{"ProgrammeByKeyHash", func(tx core.ReadTx) (any, error) { return one(tx.ProgrammeByKeyHash([]byte("retired-key-hash-p2"))) }, programme("p2", "Beta")},
		{"Identity", func(tx core.ReadTx) (any, error) { return one(tx.Identity("101")) }, identity("101", "p1")},
		{"UsersByEmail", func(tx core.ReadTx) (any, error) { return one(tx.UsersByEmail("p1", "ann@example.com")) }, []*core.User{ann101()}},
		{"ListUsers", func(tx core.ReadTx) (any, error) {
			return ids(tx.ListUsers("101", core.UserFilter{Tag: "tag-102", Roles: []core.Role{core.RoleAdmin}, Limit: 10}))
		}, []string{"102"}},
		{"Password", func(tx core.ReadTx) (any, error) { return one(tx.Password("101")) },
			&core.PasswordRecord{UserID: "101", Hash: "$argon2id$second", History: []string{"$argon2id$first"}, SetAt: t0}},
		{"Session", func(tx core.ReadTx) (any, error) { return one(tx.Session([]byte("token-2"))) }, session("token-2", "102", t0)},
		{"UserSessions", func(tx core.ReadTx) (any, error) { return one(tx.UserSessions("101")) }, []*core.Session{session("token-1", "101", t0)}},
		{"ResetCode", func(tx core.ReadTx) (any, error) { return one(tx.ResetCode("102")) },
			&core.ResetCode{UserID: "102", Nonce: "n0", CodeHash: []byte("reset"), ExpiresAt: t0, Attempts: 1}},
		{"Invite", func(tx core.ReadTx) (any, error) { return one(tx.Invite("102")) }, invite("102", "n1")},
		{"EmailCode", func(tx core.ReadTx) (any, error) { return one(tx.EmailCode("102")) }, emailCode("102", "n2")},
		{"KYCByReference", func(tx core.ReadTx) (any, error) { return one(tx.KYCByReference("1001")) }, kyc("101", "1001")},
		{"FactorByCredentialID", func(tx core.ReadTx) (any, error) {
			return one(tx.FactorByCredentialID([]byte("credential-id-102-BIOMETRIC")))
		}, factor("102", core.ChannelBiometric)},
		{"Challenge", func(tx core.ReadTx) (any, error) { return one(tx.Challenge([]byte("token-1"), core.PurposeStepUpSMS)) },
			challenge("token-1", core.PurposeStepUpSMS, t0)},
		{"AuditSize", func(tx core.ReadTx) (any, error) { return one(tx.AuditSize("p1")) }, int64(5)},
		{"AuditEventsAbout", func(tx core.ReadTx) (any, error) {
			es, err := tx.AuditEventsAbout("p2", "102", 0, 10)
			var seqs []uint64
			for _, e := range es {
				seqs = append(seqs, e.Seq)
			}
			return seqs, err
		}, []uint64{2, 1}},
		{"audit tree of p1", func(tx core.ReadTx) (any, error) { return auditRootsAgree(tx, "p1") }, true},
		{"audit tree of p2", func(tx core.ReadTx) (any, error) { return auditRootsAgree(tx, "p2") }, true},
		{"LastAuditCheckpoint", func(tx core.ReadTx) (any, error) { return one(tx.LastAuditCheckpoint("p1")) },
			&core.AuditCheckpoint{ProgrammeID: "p1", Size: 3, Note: []byte("note"), At: t0}},
		{"Idempotency", func(tx core.ReadTx) (any, error) {
			r, err := tx.Idempotency("k1")
			if err != nil {
				return nil, err
			}
			return string(r.Body), nil
		}, `{"id":"101"}`},
		{"Outbox", func(tx core.ReadTx) (any, error) {
			ms, err := tx.Outbox("p1", nil, 0, 10)
			var seqs []uint64
			for _, m := range ms {
				seqs = append(seqs, m.Seq)
			}
			return seqs, err
		}, []uint64{2, 1}},
		{"PasswordToken", func(tx core.ReadTx) (any, error) { return one(tx.PasswordToken([]byte("pt-1"))) }, passwordToken("pt-1", t0.Add(time.Hour))},
		{"PendingPushChallenges", func(tx core.ReadTx) (any, error) {
			cs, err := tx.PendingPushChallenges("102")
			if len(cs) != 1 {
				return len(cs), err
			}
			return cs[0].ID, err
		}, "901"},
		{"LastPushChallengeID", func(tx core.ReadTx) (any, error) { return one(tx.LastPushChallengeID("101")) }, "900"},
		{"WebAuthnRegistration", func(tx core.ReadTx) (any, error) { return one(tx.WebAuthnRegistration([]byte("token-2"))) },
			webAuthnRegistration("token-2", t0.Add(time.Hour))},
		{"WebhookEndpoints", func(tx core.ReadTx) (any, error) { return one(tx.WebhookEndpoints("p1")) },
			[]*core.WebhookEndpoint{webhookEndpoint("p1", "we_1")}},
		{"DueWebhookDeliveries", func(tx core.ReadTx) (any, error) {
			ds, err := tx.DueWebhookDeliveries(t0.Add(time.Hour), 10, 10, nil)
			var seqs []uint64
			for _, d := range ds {
				seqs = append(seqs, d.Seq)
			}
			return seqs, err
		}, []uint64{2}},
		{"WebhookDeliveries", func(tx core.ReadTx) (any, error) {
			ds, err := tx.WebhookDeliveries("we_1", 0, 10)
			return len(ds), err
		}, 2},
		{"Resource", func(tx core.ReadTx) (any, error) { return one(tx.Resource("p1", core.ResourceSends, "7")) },
			resource("p1", core.ResourceSends, "7")},
		{"Confirmation", func(tx core.ReadTx) (any, error) { return one(tx.Confirmation("900")) }, confirmation("900")},
		{"RunningBulks", func(tx core.ReadTx) (any, error) { return one(tx.RunningBulks(0)) }, []*core.Bulk{filledBulk()}},
		{"Bulks", func(tx core.ReadTx) (any, error) {
			bs, n, err := tx.Bulks("101", core.BulkRunning, 0, 10)
			return []any{bs, n}, err
		}, []any{[]*core.Bulk{filledBulk()}, 1}},
		{"BulkOperations", func(tx core.ReadTx) (any, error) { return one(tx.BulkOperations("500", 2, 0)) }, filledBulkOps()[1:]},
	}
	for _, a := range answers {
		got, err := read(t, s, a.got)
		if assert.NoError(t, err, a.name) {
			assert.Equal(t, a.want, got, a.name)
		}
	}

	// The counters and sequences go on from where they were; tried in
	// Updates that roll back.
	var (
		count                        int
		id                           string
		audit, outbox, delivery      uint64
		counterErr, idErr, appendErr error
		grantErr                     error
	)
	err := s.Update(t.Context(), func(tx core.Tx) error {
		count, counterErr = tx.IncrementCounter("login:ann", t0.Add(time.Hour), t0)
		id, idErr = tx.NextID()
		e, m, d := auditEvent("p1", 8), message("p1", 4), &core.WebhookDelivery{ProgrammeID: "p1", EndpointID: "we_1", EventID: "evt_1", State: core.DeliveryFailed, CreatedAt: t0}
		if appendErr = tx.AppendAudit(e); appendErr == nil {
			if appendErr = tx.AppendOutbox(m); appendErr == nil {
				appendErr = tx.AppendWebhookDelivery(d)
			}
		}
		audit, outbox, delivery = e.Seq, m.Seq, d.Seq
		grantErr = tx.TakeStepUpGrant([]byte("token-1"), []byte("op-a"), t0)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.NoError(t, counterErr)
	require.NoError(t, idErr)
	require.NoError(t, appendErr)
	require.NoError(t, grantErr, "the session's step-up grant")
	assert.Equal(t, 3, count, "the counter's third increment")
	assert.Equal(t, []uint64{6, 3}, []uint64{audit, outbox}, "the next audit event and outbox message")
	// A sequence may move on in a transaction that rolls back (PostgreSQL's
	// do), so a store checked twice hands out later numbers.
	n, err := strconv.ParseUint(id, 10, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, uint64(100_000_004), "NextID after three ids")
	assert.GreaterOrEqual(t, delivery, uint64(3), "the next webhook delivery")
}

// auditRootsAgree reports whether the root of a programme's stored audit tree
// is the root of a tree built afresh from its events.
func auditRootsAgree(tx core.ReadTx, programmeID string) (bool, error) {
	size, err := tx.AuditSize(programmeID)
	if err != nil {
		return false, err
	}
	stored, err := tlog.TreeHash(size, StoredTree{tx, programmeID})
	if err != nil {
		return false, err
	}
	events, err := tx.AuditEvents(programmeID, 0, int(size))
	if err != nil {
		return false, err
	}
	var fresh MemoryTree
	for _, e := range events {
		if err := fresh.Append(e); err != nil {
			return false, err
		}
	}
	built, err := tlog.TreeHash(size, fresh)
	return stored == built && len(events) == int(size), err
}
