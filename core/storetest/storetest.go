// Package storetest is the contract every core.Store implementation must pass.
// An implementation's tests call Run with a function that opens a fresh store;
// Run exercises every method of core.Tx and core.ReadTx through Update and View,
// the unique constraints, index consistency, rollback, and the isolation of
// concurrent Updates. Fill and RequireFilled (fill.go) serve the tests of a
// store copy.
package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Run runs the contract suite. open must return a new, empty store on every
// call and close it with t.Cleanup.
//
// Records must come back equal (reflect.DeepEqual) to what was written. The
// suite's times are UTC with microsecond precision, so a store must return
// times in UTC and keep at least microseconds.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	t.Helper()
	for _, c := range []struct {
		name string
		test func(t *testing.T, s core.Store)
	}{
		{"ProgrammeRoundTrip", testProgrammeRoundTrip},
		{"ProgrammeNotFound", testProgrammeNotFound},
		{"ProgrammeNameUnique", testProgrammeNameUnique},
		{"UpdateProgrammeMovesIndexes", testUpdateProgrammeMovesIndexes},
		{"ProgrammeKeyIndex", testProgrammeKeyIndex},
		{"ProgrammeKeyHashUnique", testProgrammeKeyHashUnique},
		{"Identity", testIdentity},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserNotFound", testUserNotFound},
		{"InsertUserUniqueEmails", testInsertUserUniqueEmails},
		{"UpdateUserUniqueEmails", testUpdateUserUniqueEmails},
		{"UpdateUserEmailMovesIndexes", testUpdateUserEmailMovesIndexes},
		{"LinkedRootSharesEmail", testLinkedRootSharesEmail},
		{"FailedWriteChangesNothing", testFailedWriteChangesNothing},
		{"ListUsersFilters", testListUsersFilters},
		{"ListUsersPaging", testListUsersPaging},
		{"ListUsersAfterUpdates", testListUsersAfterUpdates},
		{"ListUsersConcurrentUpdates", testListUsersConcurrentUpdates},
		{"Invite", testInvite},
		{"EmailCode", testEmailCode},
		{"KYC", testKYC},
		{"KYCReferenceUnique", testKYCReferenceUnique},
		{"Password", testPassword},
		{"Session", testSession},
		{"SessionPrefetched", testSessionPrefetched},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"UserSessions", testUserSessions},
		{"DeleteSessionsIdleSince", testDeleteSessionsIdleSince},
		{"ResetCode", testResetCode},
		{"Factor", testFactor},
		{"FactorByCredentialID", testFactorByCredentialID},
		{"CredentialIDUniqueUnderConcurrency", testCredentialIDUniqueUnderConcurrency},
		{"Challenge", testChallenge},
		{"ChallengesExpiredUnreported", testChallengesExpiredUnreported},
		{"PushChallenge", testPushChallenge},
		{"PushChallengeSweep", testPushChallengeSweep},
		{"PushChallengesExpiredPending", testPushChallengesExpiredPending},
		{"WebAuthnRegistration", testWebAuthnRegistration},
		{"StepUpGrant", testStepUpGrant},
		{"StepUpGrantTakenOnce", testStepUpGrantTakenOnce},
		{"StepUpGrantSweep", testStepUpGrantSweep},
		{"Resource", testResource},
		{"Confirmation", testConfirmation},
		{"ConfirmationSweep", testConfirmationSweep},
		{"ConfirmationsExpiredPending", testConfirmationsExpiredPending},
		{"Bulk", testBulk},
		{"DeleteBulk", testDeleteBulk},
		{"BulkIndexes", testBulkIndexes},
		{"AuditOrderAndPaging", testAuditOrderAndPaging},
		{"AuditSeqHasNoGaps", testAuditSeqHasNoGaps},
		{"AuditEventsAbout", testAuditEventsAbout},
		{"AuditHashes", testAuditHashes},
		{"AuditCheckpoints", testAuditCheckpoints},
		{"OutboxNewestFirst", testOutboxNewestFirst},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookEvent", testWebhookEvent},
		{"WebhookDeliveryIndexes", testWebhookDeliveryIndexes},
		{"WebhookDeliveryAppends", testWebhookDeliveryAppends},
		{"FailedWebhookDeliveries", testFailedWebhookDeliveries},
		{"Idempotency", testIdempotency},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"PasswordToken", testPasswordToken},
		{"PasswordTokenExpiry", testPasswordTokenExpiry},
		{"Counter", testCounter},
		{"CounterExpiry", testCounterExpiry},
		{"CounterConcurrentIncrements", testCounterConcurrentIncrements},
		{"CounterSetAndRead", testCounterSetAndRead},
		{"Meta", testMeta},
		{"ValuesAreCopies", testValuesAreCopies},
		{"RollbackOnError", testRollbackOnError},
		{"CanceledContext", testCanceledContext},
		{"NextIDUniqueUnderConcurrency", testNextIDUniqueUnderConcurrency},
		{"UpdateIsIsolated", testUpdateIsIsolated},
		{"ConcurrentFailuresStayApart", testConcurrentFailuresStayApart},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open(t)) })
	}
}

// t0 is the suite's reference time: UTC, microsecond precision.
var t0 = time.Date(2026, time.March, 14, 9, 26, 53, 589793000, time.UTC)

// errRollback is returned from Update functions to discard their writes.
var errRollback = errors.New("storetest: roll back")

// The helpers below never call require inside a transaction function: an
// implementation may run it on another goroutine (bbolt's group commit does),
// where t.FailNow must not be called. Functions hand their results out instead.

// read runs fn in a View and returns its results.
func read[T any](t *testing.T, s core.Store, fn func(core.ReadTx) (T, error)) (T, error) {
	t.Helper()
	var got T
	err := s.View(t.Context(), func(tx core.ReadTx) error {
		var err error
		got, err = fn(tx)
		return err
	})
	return got, err
}

// write runs fn in an Update and returns its results.
func write[T any](t *testing.T, s core.Store, fn func(core.Tx) (T, error)) (T, error) {
	t.Helper()
	var got T
	err := s.Update(t.Context(), func(tx core.Tx) error {
		var err error
		got, err = fn(tx)
		return err
	})
	return got, err
}

// mustUpdate runs fn in an Update that must succeed.
// expirySweep is a kind of record that a Delete...Expired sweep removes.
type expirySweep struct {
	what   string // the kind's name in failure messages
	insert func(tx core.Tx, name string, expiresAt time.Time) error
	sweep  func(tx core.Tx, before time.Time) (int, error)
	get    func(tx core.ReadTx, name string) error
}

// check stores records "old", "now" and "new" expiring an hour before, at and
// an hour after t0, then sweeps: before t0 takes old alone, once; before t0+2h
// takes the other two.
func (e expirySweep) check(t *testing.T, s core.Store) {
	t.Helper()
	mustUpdate(t, s, func(tx core.Tx) error {
		for name, at := range map[string]time.Time{"old": t0.Add(-time.Hour), "now": t0, "new": t0.Add(time.Hour)} {
			if err := e.insert(tx, name, at); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(name string) error {
		_, err := read(t, s, func(tx core.ReadTx) (struct{}, error) { return struct{}{}, e.get(tx, name) })
		return err
	}
	for _, c := range []struct {
		before  time.Time
		deleted int
		left    []string
		gone    []string
	}{
		{before: t0, deleted: 1, left: []string{"now", "new"}, gone: []string{"old"}},
		{before: t0, deleted: 0, left: []string{"now", "new"}},
		{before: t0.Add(2 * time.Hour), deleted: 2, gone: []string{"now", "new"}},
	} {
		n, err := write(t, s, func(tx core.Tx) (int, error) { return e.sweep(tx, c.before) })
		require.NoError(t, err)
		assert.Equal(t, c.deleted, n, "%ss expired before %v", e.what, c.before)
		for _, name := range c.left {
			assert.NoError(t, get(name), "%s %s", e.what, name)
		}
		for _, name := range c.gone {
			assert.ErrorIs(t, get(name), core.ErrRecordNotFound, "%s %s", e.what, name)
		}
	}
}

func mustUpdate(t *testing.T, s core.Store, fn func(core.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), fn))
}

// tryWrite runs fn in an Update that is always rolled back and returns fn's error.
func tryWrite(t *testing.T, s core.Store, fn func(core.Tx) error) error {
	t.Helper()
	var fnErr error
	err := s.Update(t.Context(), func(tx core.Tx) error {
		fnErr = fn(tx)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	return fnErr
}

func requireNotFound(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, core.ErrRecordNotFound)
}

func requireDuplicate(t *testing.T, err error, constraint string) {
	t.Helper()
	require.ErrorIs(t, err, core.ErrDuplicate)
	var dup *core.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, constraint, dup.Constraint, "violated constraint")
}

// requireComplete fails if a fixture leaves a field of record (a pointer to a
// struct) at its zero value: a field added to the model must be added to the
// fixtures too, so that the round trips prove every store keeps it.
func requireComplete(t *testing.T, record any) {
	t.Helper()
	v := reflect.ValueOf(record).Elem()
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(),
			"the %s fixture in core/storetest leaves %s unset: set it so that the round trip covers it", v.Type().Name(), v.Type().Field(i).Name)
	}
}

// Fixtures. The round-trip tests check with requireComplete that every field is set.

func programme(id, name string) *core.Programme {
	return &core.Programme{
		ID:           id,
		Name:         name,
		APIKeyHash:   []byte("api-key-hash-" + id),
		APIKeySealed: []byte("sealed-api-key-" + id),
		UIKeyHash:    []byte("ui-key-hash-" + id),
		RetiredKeys: []core.RetiredKey{
			{Kind: core.SecretKey, Hash: []byte("retired-key-hash-" + id), Until: t0.Add(24 * time.Hour)},
		},
		Settings:  core.ProgrammeSettings{PasswordProfile: "nist"},
		CreatedAt: t0,
	}
}

func identity(id, programmeID string) *core.Identity {
	return &core.Identity{
		ID:          id,
		ProgrammeID: programmeID,
		Type:        core.Corporate,
		Name:        "Acme " + id,
		// Not compact: the profile must come back byte for byte.
		Profile:   []byte(`{"companyName": "Acme",  "registrationCountry": "MT"}`),
		CreatedAt: t0,
	}
}

// user returns a user of an identity; a root user's id is its identity's id.
func user(id, programmeID, identityID, email string) *core.User {
	return &core.User{
		ID:                 id,
		IdentityID:         identityID,
		IdentityType:       core.Corporate,
		ProgrammeID:        programmeID,
		Root:               id == identityID,
		Name:               "Ann",
		Surname:            "Smith",
		Email:              email,
		Mobile:             &core.Mobile{CountryCode: "+356", Number: "79123456"},
		DateOfBirth:        &core.Date{Year: 1990, Month: 2, Day: 28},
		Tag:                "tag-" + id,
		Locale:             "en-GB",
		Brand:              "acme",
		CountryOfResidence: "MT",
		Roles:              []core.Role{core.RoleAdmin, core.RoleCardAssignee},
		Active:             true,
		EmailVerified:      true,
		MobileChanges:      1,
		PasswordSet:        true,
		FailedLogins:       2,
		LastFailedLogin:    t0.Add(-time.Minute),
		SCAFailures:        1,
		SCALockedUntil:     t0.Add(15 * time.Minute),
		LockedUntil:        t0.Add(30 * time.Minute),
		CreatedAt:          t0,
		UpdatedAt:          t0.Add(time.Second),
	}
}

func session(tokenHash, userID string, lastSeen time.Time) *core.Session {
	return &core.Session{
		TokenHash:       []byte(tokenHash),
		UserID:          userID,
		IdentityID:      userID,
		ProgrammeID:     "p1",
		CreatedAt:       t0.Add(-time.Hour),
		LastSeen:        lastSeen,
		SteppedUp:       true,
		SteppedUpAt:     t0.Add(-time.Minute),
		SignedInStepped: true,
		DeviceID:        "device-" + userID,
		AuthOnly:        true,
		SignIn:          []byte("sign-in-of-" + tokenHash),
	}
}

func passwordToken(tokenHash string, expiresAt time.Time) *core.PasswordToken {
	return &core.PasswordToken{
		TokenHash:   []byte(tokenHash),
		ProgrammeID: "p1",
		Sealed:      []byte("nonce-and-ciphertext-" + tokenHash),
		ExpiresAt:   expiresAt,
		SetPassword: true,
	}
}

func idempotency(key string, expiresAt time.Time) *core.IdempotencyRecord {
	return &core.IdempotencyRecord{
		Key:         key,
		PayloadHash: []byte("payload-hash-" + key),
		CreatedAt:   t0,
		ExpiresAt:   expiresAt,
	}
}

// insertAll inserts programmes, identities and users in one Update.
func insertAll(t *testing.T, s core.Store, ps []*core.Programme, is []*core.Identity, us []*core.User) {
	t.Helper()
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, p := range ps {
			if err := tx.InsertProgramme(p); err != nil {
				return err
			}
		}
		for _, i := range is {
			if err := tx.InsertIdentity(i); err != nil {
				return err
			}
		}
		for _, u := range us {
			if err := tx.InsertUser(u); err != nil {
				return err
			}
		}
		return nil
	})
}
