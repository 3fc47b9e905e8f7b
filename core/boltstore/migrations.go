package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// Bucket and key names of the tree drawn in the package comment.
var (
	bucketRoot           = []byte("v1")
	keyVersion           = []byte("version")
	bucketMeta           = []byte("meta")
	bucketProgrammes     = []byte("programmes")
	bucketProgrammeKeys  = []byte("programme_keys")
	bucketProgrammeNames = []byte("programme_names")
	bucketIdentities     = []byte("identities")
	bucketUsers          = []byte("users")
	bucketUserEmail      = []byte("user_email")
	bucketRootEmail      = []byte("root_email")
	bucketIdentityEmail  = []byte("identity_email")
	bucketPasswords      = []byte("passwords")
	bucketSessions       = []byte("sessions")
	bucketUserSessions   = []byte("user_sessions")
	bucketResetCodes     = []byte("reset_codes")
	bucketFactors        = []byte("factors")
	bucketChallenges     = []byte("challenges")
	bucketAudit          = []byte("audit")
	bucketIdempotency    = []byte("idempotency")
	bucketOutbox         = []byte("outbox")

	// Added by migration 2.
	bucketUserList       = []byte("user_list")
	bucketUserCounts     = []byte("user_counts")
	bucketUserListBlocks = []byte("user_list_blocks")
	bucketInvites        = []byte("invites")
	bucketEmailCodes     = []byte("email_codes")
	bucketKYC            = []byte("kyc")
	bucketKYCRefs        = []byte("kyc_refs")

	// Added by migration 3.
	bucketPasswordTokens = []byte("password_tokens")
	bucketCounters       = []byte("counters")

	// Added by migration 4 (push.go).
	bucketPushChallenges        = []byte("push_challenges")
	bucketUserPushChallenges    = []byte("user_push_challenges")
	bucketUserPendingPush       = []byte("user_pending_push")
	bucketWebAuthnRegistrations = []byte("webauthn_registrations")

	// Added by migration 5.
	bucketFactorCredentials = []byte("factor_credentials")

	// Added by migration 6 (auditlog.go).
	bucketAuditHashes      = []byte("audit_hashes")
	bucketAuditCheckpoints = []byte("audit_checkpoints")
	bucketAuditSubjects    = []byte("audit_subjects")

	// Added by migration 7 (webhooks.go).
	bucketWebhookEndpoints   = []byte("webhook_endpoints")
	bucketProgrammeWebhooks  = []byte("programme_webhooks")
	bucketWebhookEvents      = []byte("webhook_events")
	bucketWebhookDeliveries  = []byte("webhook_deliveries")
	bucketWebhookDue         = []byte("webhook_due")
	bucketWebhookQueue       = []byte("webhook_queue")
	bucketEndpointDeliveries = []byte("endpoint_deliveries")

	// Added by migration 8 (confirm.go).
	bucketResources     = []byte("resources")
	bucketConfirmations = []byte("confirmations")

	// Added by migration 10 (stepup.go).
	bucketStepUpGrants = []byte("stepup_grants")

	// Added by migration 11 (bulks.go).
	bucketBulks          = []byte("bulks")
	bucketBulkOperations = []byte("bulk_operations")
	bucketIdentityBulks  = []byte("identity_bulks")
	bucketRunningBulks   = []byte("running_bulks")

	// Added by migration 12 (webhooks.go).
	bucketWebhookFailed = []byte("webhook_failed")
)

// A migration takes a file from schema version Version-1 to Version. It runs
// inside the transaction that opens the file, together with the migrations
// before and after it, so a file is upgraded completely or not at all.
type migration struct {
	Version     uint64
	Description string
	Migrate     func(tx *bolt.Tx) error
}

// migrations is the schema history, oldest first; Version i+1 is at index i.
// Append to it, never edit a migration that has shipped, and give each new one
// its own test in migrations_test.go.
var migrations = []migration{
	{Version: 1, Description: "create the bucket tree", Migrate: createTree},
	{Version: 2, Description: "index users for listing; add invites, email codes and KYC", Migrate: addUserListAndOnboarding},
	{Version: 3, Description: "index every programme key; add password tokens and counters", Migrate: addKeysTokensAndCounters},
	{Version: 4, Description: "add push challenges and WebAuthn registrations", Migrate: addPushAndWebAuthn},
	{Version: 5, Description: "index factors by WebAuthn credential id", Migrate: addCredentialIndex},
	{Version: 6, Description: "add the audit log's Merkle tree, checkpoints and subject index", Migrate: addAuditTree},
	{Version: 7, Description: "add webhook endpoints, the outbox of events and their deliveries", Migrate: addWebhooks},
	{Version: 8, Description: "add confirmation challenges and the resources they confirm", Migrate: addConfirmations},
	{Version: 9, Description: "start each webhook endpoint's fan-out cursor at its programme's audit log size", Migrate: startWebhookFanOut},
	{Version: 10, Description: "add the sessions' step-up grants", Migrate: addStepUpGrants},
	{Version: 11, Description: "add bulk processes and their operations", Migrate: addBulks},
	{Version: 12, Description: "index failed webhook deliveries by failure time", Migrate: indexFailedDeliveries},
}

// migrate brings the file up to the last of ms. It refuses a file whose
// schema version is newer than ms knows.
func migrate(tx *bolt.Tx, ms []migration) error {
	root, err := tx.CreateBucketIfNotExists(bucketRoot)
	if err != nil {
		return err
	}
	version, err := schemaVersion(root)
	if err != nil {
		return err
	}
	latest := uint64(len(ms))
	if version > latest {
		return fmt.Errorf("schema version %d is newer than this build of deputy knows (%d): upgrade deputy", version, latest)
	}
	if version == latest {
		return nil
	}
	for _, m := range ms[version:] {
		if err := m.Migrate(tx); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.Version, m.Description, err)
		}
	}
	return tx.Bucket(bucketRoot).Put(keyVersion, binary.BigEndian.AppendUint64(nil, latest))
}

// schemaVersion reads the version key of the root bucket; a file without one is at version 0.
func schemaVersion(root *bolt.Bucket) (uint64, error) {
	v := root.Get(keyVersion)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	default:
		return 0, errors.New("corrupt schema version")
	}
}

// createTree is migration 1: it creates every bucket of the tree.
func createTree(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{
		bucketMeta, bucketProgrammes, bucketProgrammeKeys, bucketProgrammeNames,
		bucketIdentities, bucketUsers, bucketUserEmail, bucketRootEmail, bucketIdentityEmail,
		bucketPasswords, bucketSessions, bucketUserSessions, bucketResetCodes,
		bucketFactors, bucketChallenges,
		bucketAudit, bucketIdempotency, bucketOutbox,
	} {
		if _, err := root.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// addUserListAndOnboarding is migration 2: it creates the buckets of the user
// list index and of invites, email codes and KYC cases, and indexes the users
// already stored. It builds the index with the code that maintains it
// (userlist.go), so a later migration that changes the index's format must
// clear user_list, user_counts and user_list_blocks and index every user again.
func addUserListAndOnboarding(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{
		bucketUserList, bucketUserCounts, bucketUserListBlocks, bucketInvites, bucketEmailCodes, bucketKYC, bucketKYCRefs,
	} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
	return root.Bucket(bucketUsers).ForEach(func(k, data []byte) error {
		u, err := decode[core.User](data, "user "+string(k))
		if err != nil {
			return err
		}
		return w.reindexUserList(nil, u)
	})
}

// addKeysTokensAndCounters is migration 3: it creates the buckets of tokenised
// passwords and of rate-limit counters, and rebuilds programme_keys, which
// indexed only the api key, so that it maps every key hash of a programme (api,
// ui and retired keys) to its id. It indexes with the code that maintains the
// index (programmes.go) and fails with core.UniqueKeyHash if two programmes
// share a key hash.
func addKeysTokensAndCounters(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketPasswordTokens, bucketCounters} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	if err := root.DeleteBucket(bucketProgrammeKeys); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketProgrammeKeys, err)
	}
	if _, err := root.CreateBucket(bucketProgrammeKeys); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketProgrammeKeys, err)
	}
	w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
	return root.Bucket(bucketProgrammes).ForEach(func(k, data []byte) error {
		p, err := decode[core.Programme](data, "programme "+string(k))
		if err != nil {
			return err
		}
		if err := w.checkKeyHashes(p); err != nil {
			return fmt.Errorf("programme %s: %w", p.ID, err)
		}
		return w.putKeyHashes(p)
	})
}

// checkSchema verifies that a database has a schema this build knows, without
// migrating it.
func checkSchema(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return errors.New("not a Deputy database: no root bucket")
	}
	version, err := schemaVersion(root)
	switch {
	case err != nil:
		return err
	case version == 0 || version > uint64(len(migrations)):
		return fmt.Errorf("schema version %d is not one this build of deputy knows (1 to %d)", version, len(migrations))
	}
	return nil
}

// addCredentialIndex is migration 5: it creates factor_credentials and indexes
// the credential id of every factor already stored, with the code that
// maintains the index (sessions.go). It fails with core.UniqueCredentialID if
// two factors share a credential id, which WebAuthn §7.1 step 22 forbids: the
// operator must unlink one of them with the previous build first.
func addCredentialIndex(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	if _, err := root.CreateBucket(bucketFactorCredentials); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketFactorCredentials, err)
	}
	w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
	return root.Bucket(bucketFactors).ForEach(func(k, data []byte) error {
		f, err := decode[core.Factor](data, "factor "+string(k))
		if err != nil {
			return err
		}
		if err := w.indexCredential(k, f.CredentialID); err != nil {
			return fmt.Errorf("factor of user %s: %w", f.UserID, err)
		}
		return nil
	})
}

// addWebhooks is migration 7: it creates the buckets of webhook endpoints,
// events and deliveries, and their indexes; there is nothing to fill them with.
func addWebhooks(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{
		bucketWebhookEndpoints, bucketProgrammeWebhooks, bucketWebhookEvents, bucketWebhookDeliveries,
		bucketWebhookDue, bucketWebhookQueue, bucketEndpointDeliveries,
	} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// addConfirmations is migration 8: the buckets of confirmation challenges
// and of the resources embedders register for them.
func addConfirmations(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	for _, name := range [][]byte{bucketResources, bucketConfirmations} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// startWebhookFanOut is migration 9: the audit log became the webhooks'
// outbox (core's webhookfanout.go), and each endpoint keeps the Seq of the
// last audit event it has been given. Earlier builds queued every event in
// the change's own transaction, so an endpoint has been given them all: its
// cursor starts at its programme's audit log size.
func startWebhookFanOut(tx *bolt.Tx) error {
	w := &writeTx{readTx{tx: tx, cache: newRecordCaches()}}
	var eps []*core.WebhookEndpoint
	err := w.bucket(bucketWebhookEndpoints).ForEach(func(k, data []byte) error {
		e, err := decode[core.WebhookEndpoint](data, "webhook endpoint "+string(k))
		eps = append(eps, e)
		return err
	})
	if err != nil {
		return err
	}
	for _, e := range eps {
		size, err := w.AuditSize(e.ProgrammeID)
		if err != nil {
			return err
		}
		e.Fanned = uint64(size)
		if err := w.PutWebhookEndpoint(e); err != nil {
			return err
		}
	}
	return nil
}

// indexFailedDeliveries is migration 12: the index of each endpoint's failed
// deliveries by failure time, filled from the deliveries that have failed.
func indexFailedDeliveries(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	index, err := root.CreateBucket(bucketWebhookFailed)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucketWebhookFailed, err)
	}
	return root.Bucket(bucketWebhookDeliveries).ForEach(func(k, data []byte) error {
		d, err := decode[core.WebhookDelivery](data, "webhook delivery")
		if err != nil || d.State != core.DeliveryFailed {
			return err
		}
		return index.Put(failedKey(d), nil)
	})
}
