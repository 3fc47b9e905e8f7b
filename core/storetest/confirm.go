package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func resource(programmeID string, t core.ResourceType, id string) *core.Resource {
	return &core.Resource{
		ProgrammeID: programmeID,
		Type:        t,
		ID:          id,
		UserID:      "101",
		IdentityID:  "100",
		Summary: core.ResourceSummary{
			Amount:       core.Amount{Currency: "EUR", Value: 1250},
			PayeeName:    "Alice Example",
			PayeeAccount: "GB29NWBK60161331926819",
			Fields:       map[string]string{"reference": "Invoice 7"},
		},
		State:       core.ResourceVerified,
		ChallengeID: "900",
		Codes:       2,
		LastCodeAt:  t0.Add(-time.Minute),
		CreatedAt:   t0.Add(-time.Hour),
		UpdatedAt:   t0,
		VerifiedAt:  t0,
	}
}

func confirmation(id string) *core.Confirmation {
	return &core.Confirmation{
		ID:           id,
		ProgrammeID:  "p1",
		UserID:       "101",
		IdentityID:   "100",
		SessionHash:  []byte("session-hash-" + id),
		Channel:      core.ChannelSMS,
		ResourceType: core.ResourceSends,
		ResourceIDs:  []string{"7", "8"},
		Binding:      []byte("binding-" + id),
		Nonce:        "nonce-" + id,
		CodeHash:     []byte("code-hash-" + id),
		Attempts:     1,
		MaxAttempts:  5,
		IssuedAt:     t0,
		ExpiresAt:    t0.Add(5 * time.Minute),
		State:        core.ChallengePending,
	}
}

// Resources are kept per programme, type and id; a put replaces one.
func testResource(t *testing.T, s core.Store) {
	get := func(programmeID string, typ core.ResourceType, id string) (*core.Resource, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Resource, error) { return tx.Resource(programmeID, typ, id) })
	}
	send := resource("p1", core.ResourceSends, "7")
	requireComplete(t, send)
	wire := resource("p1", core.ResourceOutgoingWireTransfers, "7")
	other := resource("p2", core.ResourceSends, "7")
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, r := range []*core.Resource{send, wire, other} {
			if err := tx.PutResource(r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*core.Resource{send, wire, other} {
		got, err := get(want.ProgrammeID, want.Type, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := get("p1", core.ResourceSends, "8")
	requireNotFound(t, err)

	send.Summary.Amount.Value, send.State = 999, core.ResourcePending
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutResource(send) })
	got, err := get("p1", core.ResourceSends, "7")
	require.NoError(t, err)
	assert.Equal(t, send, got, "a put replaces the resource")
	got, err = get("p2", core.ResourceSends, "7")
	require.NoError(t, err)
	assert.Equal(t, other, got, "another programme's resource of the same id is apart")
}

// Confirmations are kept by id; a put replaces one.
func testConfirmation(t *testing.T, s core.Store) {
	get := func(id string) (*core.Confirmation, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Confirmation, error) { return tx.Confirmation(id) })
	}
	_, err := get("900")
	requireNotFound(t, err)
	c := confirmation("900")
	requireComplete(t, c)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutConfirmation(c) })
	got, err := get("900")
	require.NoError(t, err)
	assert.Equal(t, c, got)

	c.State, c.Attempts = core.ChallengeVerified, 2
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutConfirmation(c) })
	got, err = get("900")
	require.NoError(t, err)
	assert.Equal(t, c, got, "a put replaces the confirmation")
}

// Confirmations issued before a time are deleted, and only those.
func testConfirmationSweep(t *testing.T, s core.Store) {
	old, edge, fresh := confirmation("901"), confirmation("902"), confirmation("903")
	old.IssuedAt = t0.Add(-25 * time.Hour)
	edge.IssuedAt = t0.Add(-24 * time.Hour)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.Confirmation{old, edge, fresh} {
			if err := tx.PutConfirmation(c); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := write(t, s, func(tx core.Tx) (int, error) { return tx.DeleteConfirmationsIssuedBefore(edge.IssuedAt) })
	require.NoError(t, err)
	assert.Equal(t, 1, n, "confirmations deleted")
	_, err = read(t, s, func(tx core.ReadTx) (*core.Confirmation, error) { return tx.Confirmation(old.ID) })
	requireNotFound(t, err)
	for _, want := range []*core.Confirmation{edge, fresh} {
		got, err := read(t, s, func(tx core.ReadTx) (*core.Confirmation, error) { return tx.Confirmation(want.ID) })
		require.NoError(t, err)
		assert.Equal(t, want, got, "kept")
	}
}

// testConfirmationsExpiredPending: pending confirmations of any channel
// whose expiry is not after t, those ended or still live left out, up to
// the limit; one that ends is not listed again.
func testConfirmationsExpiredPending(t *testing.T, s core.Store) {
	due1, due2, live, verified := confirmation("911"), confirmation("912"), confirmation("913"), confirmation("914")
	due1.ExpiresAt, due2.ExpiresAt, live.ExpiresAt, verified.ExpiresAt = t0.Add(-time.Minute), t0, t0.Add(time.Nanosecond), t0.Add(-time.Minute)
	due2.Channel, verified.State = core.ChannelBiometric, core.ChallengeVerified
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, c := range []*core.Confirmation{due1, due2, live, verified} {
			if err := tx.PutConfirmation(c); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(limit int) []*core.Confirmation {
		l, err := read(t, s, func(tx core.ReadTx) ([]*core.Confirmation, error) { return tx.ConfirmationsExpiredPending(t0, limit) })
		require.NoError(t, err)
		return l
	}
	assert.ElementsMatch(t, []*core.Confirmation{due1, due2}, list(10))
	assert.Len(t, list(1), 1, "the limit")

	due1.State = core.ChallengeFailed
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutConfirmation(due1) })
	assert.Equal(t, []*core.Confirmation{due2}, list(10), "an end recorded is not listed again")
}
