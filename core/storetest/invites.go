package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func invite(userID, nonce string) *core.Invite {
	return &core.Invite{
		UserID:    userID,
		Nonce:     nonce,
		CodeHash:  []byte("code-hash-" + nonce),
		SentAt:    t0,
		ExpiresAt: t0.Add(7 * 24 * time.Hour),
		State:     core.InvitePending,
	}
}

func emailCode(userID, nonce string) *core.EmailCode {
	return &core.EmailCode{
		UserID:    userID,
		Nonce:     nonce,
		CodeHash:  []byte("code-hash-" + nonce),
		ExpiresAt: t0.Add(5 * time.Minute),
		Attempts:  2,
	}
}

func kyc(userID, reference string) *core.KYC {
	return &core.KYC{
		UserID:    userID,
		Reference: reference,
		Provider:  "sumsub",
		Status:    core.KYCPending,
		CreatedAt: t0,
		UpdatedAt: t0.Add(time.Minute),
	}
}

func testInvite(t *testing.T, s core.Store) {
	get := func(userID string) (*core.Invite, error) {
		return read(t, s, func(tx core.ReadTx) (*core.Invite, error) { return tx.Invite(userID) })
	}
	_, err := get("102")
	requireNotFound(t, err)

	first, other := invite("102", "n1"), invite("1020", "n9") // a user id that the other one is a prefix of
	requireComplete(t, first)
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.PutInvite(first); err != nil {
			return err
		}
		return tx.PutInvite(other)
	})
	got, err := get("102")
	require.NoError(t, err)
	assert.Equal(t, first, got)

	second := invite("102", "n2")
	second.State = core.InviteVoid
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutInvite(second) })
	got, err = get("102")
	require.NoError(t, err)
	assert.Equal(t, second, got, "a new invite replaces the old")
	got, err = get("1020")
	require.NoError(t, err)
	assert.Equal(t, other, got, "another user's invite")
	_, err = get("10")
	requireNotFound(t, err)
}

func testEmailCode(t *testing.T, s core.Store) {
	get := func(userID string) (*core.EmailCode, error) {
		return read(t, s, func(tx core.ReadTx) (*core.EmailCode, error) { return tx.EmailCode(userID) })
	}
	_, err := get("102")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteEmailCode("102") }))

	first, other := emailCode("102", "n1"), emailCode("1020", "n9")
	requireComplete(t, first)
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.PutEmailCode(first); err != nil {
			return err
		}
		return tx.PutEmailCode(other)
	})
	got, err := get("102")
	require.NoError(t, err)
	assert.Equal(t, first, got)

	second := emailCode("102", "n2")
	second.Attempts = 0
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutEmailCode(second) })
	got, err = get("102")
	require.NoError(t, err)
	assert.Equal(t, second, got, "a new code replaces the old")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteEmailCode("102") })
	_, err = get("102")
	requireNotFound(t, err)
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteEmailCode("102") }))
	got, err = get("1020")
	require.NoError(t, err)
	assert.Equal(t, other, got, "another user's code")
}

// kycOf reads a user's KYC case.
func kycOf(t *testing.T, s core.Store, userID string) (*core.KYC, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.KYC, error) { return tx.KYC(userID) })
}

// kycByRef reads a KYC case by its reference.
func kycByRef(t *testing.T, s core.Store, ref string) (*core.KYC, error) {
	t.Helper()
	return read(t, s, func(tx core.ReadTx) (*core.KYC, error) { return tx.KYCByReference(ref) })
}

func testKYC(t *testing.T, s core.Store) {
	_, err := kycOf(t, s, "102")
	requireNotFound(t, err)
	_, err = kycByRef(t, s, "5001")
	requireNotFound(t, err)

	ann := kyc("102", "5001")
	requireComplete(t, ann)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(ann) })
	got, err := kycOf(t, s, "102")
	require.NoError(t, err)
	assert.Equal(t, ann, got)
	got, err = kycByRef(t, s, "5001")
	require.NoError(t, err)
	assert.Equal(t, ann, got)
	for _, ref := range []string{"500", "50010", ""} {
		_, err = kycByRef(t, s, ref)
		requireNotFound(t, err)
	}

	// The same case again, with the same reference and a new status.
	ann.Status, ann.UpdatedAt = core.KYCApproved, t0.Add(time.Hour)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(ann) })
	got, err = kycByRef(t, s, "5001")
	require.NoError(t, err)
	assert.Equal(t, ann, got, "case after an update")

	// A new reference for the same user frees the old one.
	ann.Reference = "5002"
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(ann) })
	_, err = kycByRef(t, s, "5001")
	requireNotFound(t, err)
	got, err = kycByRef(t, s, "5002")
	require.NoError(t, err)
	assert.Equal(t, ann, got, "case by its new reference")
	bob := kyc("103", "5001")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(bob) })
	got, err = kycByRef(t, s, "5001")
	require.NoError(t, err)
	assert.Equal(t, bob, got, "another user's case with the freed reference")

	// Deleting a case frees its reference and leaves other cases alone.
	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteKYC("102") })
	_, err = kycOf(t, s, "102")
	requireNotFound(t, err)
	_, err = kycByRef(t, s, "5002")
	requireNotFound(t, err)
	got, err = kycByRef(t, s, "5001")
	require.NoError(t, err)
	assert.Equal(t, bob, got, "the other user's case is still there")
	requireNotFound(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteKYC("102") }))
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(kyc("104", "5002")) })
	got, err = kycByRef(t, s, "5002")
	require.NoError(t, err)
	assert.Equal(t, "104", got.UserID, "the freed reference can be taken again")
}

func testKYCReferenceUnique(t *testing.T, s core.Store) {
	ann := kyc("102", "5001")
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(ann) })

	type state struct {
		err      error
		bob      error
		byRef    *core.KYC
		annAfter *core.KYC
	}
	got, err := write(t, s, func(tx core.Tx) (state, error) {
		var st state
		st.err = tx.PutKYC(kyc("103", "5001"))
		_, st.bob = tx.KYC("103")
		var err error
		if st.byRef, err = tx.KYCByReference("5001"); err != nil {
			return st, err
		}
		st.annAfter, err = tx.KYC("102")
		return st, err
	})
	require.NoError(t, err)
	requireDuplicate(t, got.err, core.UniqueKYCReference)
	requireNotFound(t, got.bob)
	assert.Equal(t, ann, got.byRef, "case by its reference after a failed put")
	assert.Equal(t, ann, got.annAfter, "the reference's owner after a failed put")

	// Moving another user's existing case onto a taken reference fails too,
	// and leaves that case where it was.
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutKYC(kyc("103", "5002")) })
	requireDuplicate(t, tryWrite(t, s, func(tx core.Tx) error { return tx.PutKYC(kyc("103", "5001")) }), core.UniqueKYCReference)
	gotBob, err := kycByRef(t, s, "5002")
	require.NoError(t, err)
	assert.Equal(t, kyc("103", "5002"), gotBob)

	// Cases without a reference yet do not clash.
	mustUpdate(t, s, func(tx core.Tx) error {
		if err := tx.PutKYC(kyc("104", "")); err != nil {
			return err
		}
		return tx.PutKYC(kyc("105", ""))
	})
	for _, id := range []string{"104", "105"} {
		got, err := kycOf(t, s, id)
		require.NoError(t, err)
		assert.Equal(t, kyc(id, ""), got)
	}
	_, err = kycByRef(t, s, "")
	requireNotFound(t, err)
}
