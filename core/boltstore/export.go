package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/core"
)

var _ core.Exporter = (*Store)(nil)

// Export walks every record of the file from one read transaction
// (core.Exporter): the buckets of records, not the indexes derived from them.
func (s *Store) Export(ctx context.Context, fn func(core.Record) error) error {
	return guard("read", func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			r := &readTx{tx: tx}
			for _, kind := range core.RecordKinds() {
				e, ok := exports[kind]
				if !ok {
					return fmt.Errorf("boltstore cannot export %s records", kind)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := e.export(r, func(v any) error { return fn(core.Record{Kind: kind, Value: v}) }); err != nil {
					return fmt.Errorf("export %s: %w", kind, err)
				}
			}
			return nil
		})
	})
}

// kindExport reads one kind of record, from its bucket (nil for the
// sequences, which are the sequence numbers of other buckets).
type kindExport struct {
	bucket []byte
	export func(r *readTx, emit func(any) error) error
}

// exports holds every kind's reader; buckets no kind reads are indexes.
var exports = map[core.RecordKind]kindExport{
	core.KindMeta:                  {bucketMeta, exportMeta},
	core.KindProgrammes:            records[core.Programme](bucketProgrammes),
	core.KindIdentities:            {bucketIdentities, exportIdentities},
	core.KindUsers:                 records[core.User](bucketUsers),
	core.KindPasswords:             records[core.PasswordRecord](bucketPasswords),
	core.KindSessions:              records[core.Session](bucketSessions),
	core.KindResetCodes:            records[core.ResetCode](bucketResetCodes),
	core.KindInvites:               records[core.Invite](bucketInvites),
	core.KindEmailCodes:            records[core.EmailCode](bucketEmailCodes),
	core.KindKYC:                   records[core.KYC](bucketKYC),
	core.KindFactors:               records[core.Factor](bucketFactors),
	core.KindChallenges:            records[core.Challenge](bucketChallenges),
	core.KindAuditEvents:           perProgramme[core.AuditEvent](bucketAudit),
	core.KindAuditHashes:           {bucketAuditHashes, exportAuditHashes},
	core.KindAuditCheckpoints:      perProgramme[core.AuditCheckpoint](bucketAuditCheckpoints),
	core.KindIdempotency:           records[core.IdempotencyRecord](bucketIdempotency),
	core.KindOutbox:                perProgramme[core.Message](bucketOutbox),
	core.KindPasswordTokens:        records[core.PasswordToken](bucketPasswordTokens),
	core.KindCounters:              {bucketCounters, exportCounters},
	core.KindPushChallenges:        records[core.PushChallenge](bucketPushChallenges),
	core.KindWebAuthnRegistrations: records[core.WebAuthnRegistration](bucketWebAuthnRegistrations),
	core.KindWebhookEndpoints:      records[core.WebhookEndpoint](bucketWebhookEndpoints),
	core.KindWebhookEvents:         records[core.WebhookEvent](bucketWebhookEvents),
	core.KindWebhookDeliveries:     records[core.WebhookDelivery](bucketWebhookDeliveries),
	core.KindResources:             records[core.Resource](bucketResources),
	core.KindConfirmations:         records[core.Confirmation](bucketConfirmations),
	core.KindStepUpGrants:          records[core.StepUpGrant](bucketStepUpGrants),
	core.KindBulks:                 records[core.Bulk](bucketBulks),
	core.KindBulkOperations:        records[core.BulkOperation](bucketBulkOperations),
	core.KindSequences:             {nil, exportSequences},
}

// records reads a bucket of records of type T.
func records[T any](bucket []byte) kindExport {
	return kindExport{bucket, func(r *readTx, emit func(any) error) error {
		return eachRecord[T](r.bucket(bucket), string(bucket), emit)
	}}
}

// perProgramme reads a bucket holding a bucket of records of type T per programme.
func perProgramme[T any](bucket []byte) kindExport {
	return kindExport{bucket, func(r *readTx, emit func(any) error) error {
		return eachProgramme(r.bucket(bucket), func(_ string, b *bolt.Bucket) error {
			return eachRecord[T](b, string(bucket), emit)
		})
	}}
}

// eachRecord decodes every record of b.
func eachRecord[T any](b *bolt.Bucket, what string, emit func(any) error) error {
	return b.ForEach(func(_, data []byte) error {
		v, err := decode[T](data, what)
		if err != nil {
			return err
		}
		return emit(v)
	})
}

// eachProgramme calls fn with every programme's bucket under parent.
func eachProgramme(parent *bolt.Bucket, fn func(programmeID string, b *bolt.Bucket) error) error {
	return parent.ForEachBucket(func(k []byte) error { return fn(string(k), parent.Bucket(k)) })
}

func exportMeta(r *readTx, emit func(any) error) error {
	return r.bucket(bucketMeta).ForEach(func(k, v []byte) error {
		return emit(&core.MetaEntry{Key: string(k), Value: append([]byte{}, v...)})
	})
}

func exportIdentities(r *readTx, emit func(any) error) error {
	return eachRecord[identityRecord](r.bucket(bucketIdentities), "identity", func(v any) error {
		rec := v.(*identityRecord)
		rec.Identity.Profile = rec.Profile
		return emit(rec.Identity)
	})
}

func exportCounters(r *readTx, emit func(any) error) error {
	return r.bucket(bucketCounters).ForEach(func(k, data []byte) error {
		c, err := decode[counter](data, "counter")
		if err != nil {
			return err
		}
		return emit(&core.CounterEntry{Key: string(k), Count: c.Count, ExpiresAt: c.ExpiresAt.UTC()})
	})
}

func exportAuditHashes(r *readTx, emit func(any) error) error {
	return eachProgramme(r.bucket(bucketAuditHashes), func(programmeID string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) != tlog.HashSize {
				return fmt.Errorf("programme %s: a malformed audit tree hash", programmeID)
			}
			h := &core.AuditHash{ProgrammeID: programmeID, Index: int64(binary.BigEndian.Uint64(k))}
			copy(h.Hash[:], v)
			return emit(h)
		})
	})
}

// exportSequences reads the sequence numbers of the root bucket (NextID),
// of webhook_deliveries, and of each programme's audit log and outbox;
// those that never handed out a number are left out.
func exportSequences(r *readTx, emit func(any) error) error {
	seqs := []*core.Sequence{
		{Name: core.SequenceIDs, Last: r.tx.Bucket(bucketRoot).Sequence()},
		{Name: core.SequenceWebhookDeliveries, Last: r.bucket(bucketWebhookDeliveries).Sequence()},
	}
	for name, bucket := range map[string][]byte{core.SequenceAudit: bucketAudit, core.SequenceOutbox: bucketOutbox} {
		err := eachProgramme(r.bucket(bucket), func(programmeID string, b *bolt.Bucket) error {
			seqs = append(seqs, &core.Sequence{Name: name, ProgrammeID: programmeID, Last: b.Sequence()})
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, s := range seqs {
		if s.Last == 0 {
			continue
		}
		if err := emit(s); err != nil {
			return err
		}
	}
	return nil
}
