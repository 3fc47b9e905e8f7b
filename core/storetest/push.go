package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func pushChallenge(id, userID string, createdAt time.Time) *core.PushChallenge {
	return &core.PushChallenge{
		ID:          id,
		ProgrammeID: "p1",
		UserID:      userID,
		Kind:        core.PushStepUp,
		SessionHash: []byte("session-hash-" + id),
		Summary:     "Create user alice@example.com with role ADMIN",
		Operation:   []byte("operation-" + id),
		Number:      47,
		Choices:     []int{83, 47, 12},
		Salt:        []byte("salt-" + id),
		SecretHash:  []byte("secret-hash-" + id),
		State:       core.PushApproved,
		Reason:      core.PushReasonCancelled,
		CreatedAt:   createdAt,
		ExpiresAt:   createdAt.Add(5 * time.Minute),
		ResolvedAt:  createdAt.Add(time.Minute),
		Collected:   true,
		ApprovedAt:  createdAt.Add(time.Minute),
		From:        core.Client{IP: "203.0.113.7", Agent: "Deputy-Admin/1"},
	}
}

func webAuthnRegistration(sessionHash string, expiresAt time.Time) *core.WebAuthnRegistration {
	return &core.WebAuthnRegistration{
		SessionHash: []byte(sessionHash),
		UserID:      "101",
		DeviceID:    "device-1",
		DeviceName:  "Ann's phone",
		UserHandle:  []byte("user-handle-" + sessionHash),
		Session:     []byte(`{"challenge":"c2Vzc2lvbg"}`),
		Mobile:      core.Mobile{CountryCode: "+44", Number: "7700900123"},
		ExpiresAt:   expiresAt,
	}
}

func testPushChallenge(t *testing.T, s core.Store) {
	get := func(id string) (*core.PushChallenge, error) {
		return read(t, s, func(tx core.ReadTx) (*core.PushChallenge, error) { return tx.PushChallenge(id) })
	}
	after := func(userID, afterID string, limit int) []*core.PushChallenge {
		l, err := read(t, s, func(tx core.ReadTx) ([]*core.PushChallenge, error) {
			return tx.PushChallengesAfter(userID, afterID, limit)
		})
		require.NoError(t, err)
		return l
	}
	pending := func(userID string) []*core.PushChallenge {
		l, err := read(t, s, func(tx core.ReadTx) ([]*core.PushChallenge, error) { return tx.PendingPushChallenges(userID) })
		require.NoError(t, err)
		return l
	}
	last := func(userID string) string {
		id, err := read(t, s, func(tx core.ReadTx) (string, error) { return tx.LastPushChallengeID(userID) })
		require.NoError(t, err)
		return id
	}
	_, err := get("100000009")
	requireNotFound(t, err)
	assert.Empty(t, after("101", "", 0))
	assert.Empty(t, pending("101"))
	assert.Equal(t, "", last("101"))
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.UpdatePushChallenge(pushChallenge("100000009", "101", t0)) }))

	// Ids sort numerically, not as strings; a user id that another is a prefix of stays apart.
	first := pushChallenge("99999999", "101", t0.Add(-10*time.Minute))
	second := pushChallenge("100000001", "101", t0)
	third := pushChallenge("100000004", "101", t0)
	other := pushChallenge("100000002", "1010", t0)
	decoy := pushChallenge("100000003", "", t0) // a sign-in by an unknown email: no user
	second.State, third.State, other.State, decoy.State = core.PushPending, core.PushPending, core.PushPending, core.PushPending
	requireComplete(t, first)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.PushChallenge{third, second, first, other, decoy} {
			if err := tx.InsertPushChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*core.PushChallenge{first, second, third, other, decoy} {
		got, err := get(want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.Equal(t, []*core.PushChallenge{first, second, third}, after("101", "", 0), "in id order")
	assert.Equal(t, []*core.PushChallenge{second, third}, after("101", first.ID, 0), "after an id")
	assert.Equal(t, []*core.PushChallenge{second}, after("101", first.ID, 1), "at most limit")
	assert.Equal(t, []*core.PushChallenge{third}, after("101", "100000002", 0), "after an id that is not the user's")
	assert.Empty(t, after("101", third.ID, 0))
	assert.Equal(t, []*core.PushChallenge{second, third}, pending("101"))
	assert.Equal(t, third.ID, last("101"))
	assert.Equal(t, []*core.PushChallenge{other}, after("1010", "", 0))
	assert.Equal(t, other.ID, last("1010"))
	assert.Equal(t, "", last("10"))
	assert.Empty(t, after("", "", 0), "decoys belong to nobody")
	assert.Empty(t, pending(""))

	err = tryWrite(t, s, func(tx core.Tx) error { return tx.InsertPushChallenge(pushChallenge(first.ID, "102", t0)) })
	require.ErrorIs(t, err, core.ErrDuplicate)

	second.State, second.Reason, second.Collected = core.PushDeclined, core.PushReasonNotMe, false
	first.State = core.PushPending
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.UpdatePushChallenge(second); err != nil {
			return err
		}
		return tx.UpdatePushChallenge(first)
	})
	got, err := get(second.ID)
	require.NoError(t, err)
	assert.Equal(t, second, got)
	assert.Equal(t, []*core.PushChallenge{first, second, third}, after("101", "", 0), "an update keeps the user's index")
	assert.Equal(t, []*core.PushChallenge{first, third}, pending("101"), "the pending index follows the state")
}

func testPushChallengeSweep(t *testing.T, s core.Store) {
	old := pushChallenge("100000001", "101", t0.Add(-25*time.Hour))
	old.State = core.PushPending
	oldDecoy := pushChallenge("100000002", "", t0.Add(-25*time.Hour))
	fresh := pushChallenge("100000003", "101", t0)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.PushChallenge{old, oldDecoy, fresh} {
			if err := tx.InsertPushChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeletePushChallengesCreatedBefore(t0.Add(-24 * time.Hour)) })
	require.NoError(t, err)
	assert.Equal(t, 2, n, "challenges deleted")
	for _, id := range []string{old.ID, oldDecoy.ID} {
		_, err := read(t, s, func(tx core.ReadTx) (*core.PushChallenge, error) { return tx.PushChallenge(id) })
		requireNotFound(t, err)
	}
	l, err := read(t, s, func(tx core.ReadTx) ([]*core.PushChallenge, error) { return tx.PushChallengesAfter("101", "", 0) })
	require.NoError(t, err)
	assert.Equal(t, []*core.PushChallenge{fresh}, l, "the index forgets deleted challenges")
	l, err = read(t, s, func(tx core.ReadTx) ([]*core.PushChallenge, error) { return tx.PendingPushChallenges("101") })
	require.NoError(t, err)
	assert.Empty(t, l, "the pending index too")
}

func testWebAuthnRegistration(t *testing.T, s core.Store) {
	get := func(hash string) (*core.WebAuthnRegistration, error) {
		return read(t, s, func(tx core.ReadTx) (*core.WebAuthnRegistration, error) { return tx.WebAuthnRegistration([]byte(hash)) })
	}
	_, err := get("tok-1")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteWebAuthnRegistration([]byte("tok-1")) }))

	r1, r2 := webAuthnRegistration("tok-1", t0), webAuthnRegistration("tok-2", t0.Add(time.Hour))
	requireComplete(t, r1)
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.PutWebAuthnRegistration(r1); err != nil {
			return err
		}
		return tx.PutWebAuthnRegistration(r2)
	})
	got, err := get("tok-1")
	require.NoError(t, err)
	assert.Equal(t, r1, got)

	r1.DeviceID, r1.Session = "device-2", []byte(`{"challenge":"bmV3ZXI"}`)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutWebAuthnRegistration(r1) })
	got, err = get("tok-1")
	require.NoError(t, err)
	assert.Equal(t, r1, got, "a put replaces the session's registration")

	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteWebAuthnRegistrationsExpired(t0.Add(time.Minute)) })
	require.NoError(t, err)
	assert.Equal(t, 1, n, "expired registrations deleted")
	_, err = get("tok-1")
	requireNotFound(t, err)

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteWebAuthnRegistration([]byte("tok-2")) })
	_, err = get("tok-2")
	requireNotFound(t, err)
}

// testPushChallengesExpiredPending: pending challenges of any user whose
// expiry is not after t, decoys left out, up to the limit.
func testPushChallengesExpiredPending(t *testing.T, s core.Store) {
	pending := func(id, userID string, expiresAt time.Time) *core.PushChallenge {
		c := pushChallenge(id, userID, expiresAt.Add(-5*time.Minute))
		c.State = core.PushPending
		return c
	}
	due1, due2 := pending("100000001", "101", t0.Add(-time.Minute)), pending("100000002", "102", t0)
	decoy := pending("100000003", "", t0.Add(-time.Minute))
	live := pending("100000004", "101", t0.Add(time.Second))
	approved := pending("100000005", "101", t0.Add(-time.Minute))
	approved.State = core.PushApproved
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.PushChallenge{due1, due2, decoy, live, approved} {
			if err := tx.InsertPushChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(limit int) []*core.PushChallenge {
		l, err := read(t, s, func(tx core.ReadTx) ([]*core.PushChallenge, error) { return tx.PushChallengesExpiredPending(t0, limit) })
		require.NoError(t, err)
		return l
	}
	assert.ElementsMatch(t, []*core.PushChallenge{due1, due2}, list(10))
	assert.Len(t, list(1), 1, "the limit")

	due1.State = core.PushExpired
	mustUpdate(t, s, func(tx core.Tx) error { return tx.UpdatePushChallenge(due1) })
	assert.Equal(t, []*core.PushChallenge{due2}, list(10), "an expiry recorded is not listed again")
}
