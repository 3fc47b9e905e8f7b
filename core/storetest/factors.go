package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func factor(userID string, ch core.Channel) *core.Factor {
	return &core.Factor{
		UserID:           userID,
		Channel:          ch,
		Status:           core.FactorPending,
		Mobile:           &core.Mobile{CountryCode: "+356", Number: "79123456"},
		DeviceID:         "device-" + userID,
		DeviceName:       "Ann's phone",
		CredentialID:     []byte("credential-id-" + userID + "-" + string(ch)),
		PublicKey:        []byte("cose-key-" + userID),
		UserHandle:       []byte("user-handle-" + userID),
		SignCount:        42,
		AAGUID:           []byte("0123456789abcdef"),
		BackupEligible:   true,
		DeviceSecretHash: []byte("device-secret-hash-" + userID),
		EnrolledBy:       []byte("session-of-" + userID),
		Push:             &core.PushToken{Platform: core.PushAPNs, Token: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		CreatedAt:        t0,
		UpdatedAt:        t0.Add(time.Second),
	}
}

func challenge(sessionHash string, p core.ChallengePurpose, issuedAt time.Time) *core.Challenge {
	return &core.Challenge{
		SessionHash: []byte(sessionHash),
		Purpose:     p,
		UserID:      "101",
		Nonce:       "nonce-" + sessionHash,
		CodeHash:    []byte("code-hash-" + sessionHash),
		IssuedAt:    issuedAt,
		ExpiresAt:   issuedAt.Add(5 * time.Minute),
		Attempts:    1,
		MaxAttempts: 5,
		Reissues:    2,
		State:       core.ChallengePending,
		// true so that a round trip shows the field is kept; the
		// expiry test clears it
		ExpiryReported:   true,
		Operation:        []byte("operation-" + sessionHash),
		OperationSummary: "Create user alice@example.com with roles ADMIN",
	}
}

func testFactor(t *testing.T, s core.Store) {
	get := func(userID string, ch core.Channel) (*core.Factor, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Factor, error) { return tx.Factor(userID, ch) })
	}
	list := func(userID string) []*core.Factor {
		fs, err := read(t, s, func(tx core.ReadTx) ([]*core.Factor, error) { return tx.Factors(userID) })
		require.NoError(t, err)
		return fs
	}
	_, err := get("101", core.ChannelSMS)
	requireNotFound(t, err)
	assert.Empty(t, list("101"))
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteFactor("101", core.ChannelSMS) }))

	sms, bio := factor("101", core.ChannelSMS), factor("101", core.ChannelBiometric)
	bio.Mobile = nil
	other := factor("1010", core.ChannelSMS) // a user id that the other one is a prefix of
	requireComplete(t, sms)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, f := range []*core.Factor{sms, bio, other} {
			if err := tx.PutFactor(f); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := get("101", core.ChannelSMS)
	require.NoError(t, err)
	assert.Equal(t, sms, got)
	assert.ElementsMatch(t, []*core.Factor{sms, bio}, list("101"))
	assert.Equal(t, []*core.Factor{other}, list("1010"))

	sms.Status, sms.UpdatedAt = core.FactorActive, t0.Add(time.Minute)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutFactor(sms) })
	got, err = get("101", core.ChannelSMS)
	require.NoError(t, err)
	assert.Equal(t, sms, got, "a put replaces the user's factor of that channel")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteFactor("101", core.ChannelSMS) })
	_, err = get("101", core.ChannelSMS)
	requireNotFound(t, err)
	assert.Equal(t, []*core.Factor{bio}, list("101"))
}

// testFactorByCredentialID checks the credential id index (core.UniqueCredentialID):
// a lookup finds the factor holding an id, whoever's it is; another factor
// cannot take it; a factor that changes or drops its id, or is deleted, frees it.
func testFactorByCredentialID(t *testing.T, s core.Store) {
	lookup := func(id string) (*core.Factor, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Factor, error) { return tx.FactorByCredentialID([]byte(id)) })
	}
	put := func(f *core.Factor) error {
		return s.Update(t.Context(), func(tx core.Tx) error { return tx.PutFactor(f) })
	}
	for _, id := range []string{"", "cred-a"} {
		_, err := lookup(id)
		requireNotFound(t, err)
	}

	ann := factor("101", core.ChannelBiometric)
	ann.CredentialID = []byte("cred-a")
	require.NoError(t, put(ann))
	got, err := lookup("cred-a")
	require.NoError(t, err)
	assert.Equal(t, ann, got)

	bob := factor("102", core.ChannelBiometric)
	bob.CredentialID = []byte("cred-a")
	requireDuplicate(t, put(bob), core.UniqueCredentialID)
	_, err = read(t, s, func(tx core.ReadTx) (*core.Factor, error) { return tx.Factor("102", core.ChannelBiometric) })
	requireNotFound(t, err)

	ann.SignCount++
	require.NoError(t, put(ann), "the holder may write its factor again")
	ann.CredentialID = []byte("cred-b")
	require.NoError(t, put(ann))
	_, err = lookup("cred-a")
	requireNotFound(t, err)
	got, err = lookup("cred-b")
	require.NoError(t, err)
	assert.Equal(t, ann, got)
	require.NoError(t, put(bob), "an id a factor dropped is free")

	ann.CredentialID = nil // unlinked: the credential is forgotten
	require.NoError(t, put(ann))
	_, err = lookup("cred-b")
	requireNotFound(t, err)

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteFactor("102", core.ChannelBiometric) })
	_, err = lookup("cred-a")
	requireNotFound(t, err)
}

// testCredentialIDUniqueUnderConcurrency: users enrolling the same credential
// id at once get it exactly once; the others see core.UniqueCredentialID.
func testCredentialIDUniqueUnderConcurrency(t *testing.T, s core.Store) {
	var (
		won    atomic.Int32
		winner atomic.Value
		wg     sync.WaitGroup
	)
	for i := range concurrency {
		wg.Go(func() {
			f := factor(fmt.Sprint(200+i), core.ChannelBiometric)
			f.CredentialID = []byte("shared")
			err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutFactor(f) })
			if err == nil {
				won.Add(1)
				winner.Store(f.UserID)
				return
			}
			var dup *core.DuplicateError
			if assert.ErrorAs(t, err, &dup) {
				assert.Equal(t, core.UniqueCredentialID, dup.Constraint)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), won.Load(), "exactly one holder")
	got, err := read(t, s, func(tx core.ReadTx) (*core.Factor, error) { return tx.FactorByCredentialID([]byte("shared")) })
	require.NoError(t, err)
	assert.Equal(t, winner.Load(), got.UserID)
}

func testChallenge(t *testing.T, s core.Store) {
	get := func(sessionHash string, p core.ChallengePurpose) (*core.Challenge, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Challenge, error) { return tx.Challenge([]byte(sessionHash), p) })
	}
	_, err := get("tok-1", core.PurposeEnrolSMS)
	requireNotFound(t, err)

	enrol := challenge("tok-1", core.PurposeEnrolSMS, t0.Add(-10*time.Minute))
	stepUp := challenge("tok-1", core.PurposeStepUpSMS, t0.Add(-5*time.Minute))
	other := challenge("tok-2", core.PurposeEnrolSMS, t0)
	requireComplete(t, enrol)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.Challenge{enrol, stepUp, other} {
			if err := tx.PutChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*core.Challenge{enrol, stepUp, other} {
		got, err := get(string(want.SessionHash), want.Purpose)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	stepUp.State, stepUp.Attempts = core.ChallengeVerified, 2
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutChallenge(stepUp) })
	got, err := get("tok-1", core.PurposeStepUpSMS)
	require.NoError(t, err)
	assert.Equal(t, stepUp, got, "a put replaces the session's challenge of that purpose")

	for _, c := range []struct {
		before  time.Time
		deleted int
		gone    *core.Challenge
	}{
		{before: t0.Add(-5 * time.Minute), deleted: 1, gone: enrol},
		{before: t0.Add(-5 * time.Minute), deleted: 0},
		{before: t0.Add(time.Second), deleted: 2, gone: other},
	} {
		n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteChallengesIssuedBefore(c.before) })
		require.NoError(t, err)
		assert.Equal(t, c.deleted, n, "challenges issued before %v", c.before)
		if c.gone != nil {
			_, err := get(string(c.gone.SessionHash), c.gone.Purpose)
			requireNotFound(t, err)
		}
	}
}

// testChallengesExpiredUnreported: only pending, unreported challenges whose
// expiry is not after t, up to the limit.
func testChallengesExpiredUnreported(t *testing.T, s core.Store) {
	expired := func(hash string, p core.ChallengePurpose) *core.Challenge {
		c := challenge(hash, p, t0.Add(-10*time.Minute)) // expired 5 minutes before t0
		c.ExpiryReported = false
		return c
	}
	due1, due2 := expired("tok-1", core.PurposeStepUpSMS), expired("tok-2", core.PurposeEnrolSMS)
	atT0 := expired("tok-3", core.PurposeStepUpSMS)
	atT0.ExpiresAt = t0
	reported := expired("tok-4", core.PurposeStepUpSMS)
	reported.ExpiryReported = true
	verified := expired("tok-5", core.PurposeStepUpSMS)
	verified.State = core.ChallengeVerified
	failed := expired("tok-6", core.PurposeStepUpSMS)
	failed.State = core.ChallengeFailed
	live := expired("tok-7", core.PurposeStepUpSMS)
	live.ExpiresAt = t0.Add(time.Second)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.Challenge{due1, due2, atT0, reported, verified, failed, live} {
			if err := tx.PutChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(limit int) []*core.Challenge {
		l, err := read(t, s, func(tx core.ReadTx) ([]*core.Challenge, error) { return tx.ChallengesExpiredUnreported(t0, limit) })
		require.NoError(t, err)
		return l
	}
	assert.ElementsMatch(t, []*core.Challenge{due1, due2, atT0}, list(10))
	assert.Len(t, list(2), 2, "the limit")

	due1.ExpiryReported = true
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutChallenge(due1) })
	assert.ElementsMatch(t, []*core.Challenge{due2, atT0}, list(10), "a reported expiry is not listed again")
}
