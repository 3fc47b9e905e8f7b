package core

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// logoutTx adds to sessionsTx what endSignIn uses.
type logoutTx struct{ *sessionsTx }

func (tx logoutTx) UserSessions(userID string) ([]*Session, error) {
	var out []*Session
	for _, s := range tx.m {
		if s.UserID == userID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (tx logoutTx) DeleteSession(hash []byte) error {
	for k, s := range tx.m {
		if bytes.Equal(s.TokenHash, hash) {
			delete(tx.m, k)
		}
	}
	return nil
}

// TestLogoutEndsTokensOfIdentitiesLinkedMeanwhile: a logout's caller was
// read when its request was authenticated; an identity linked, and a token
// exchanged for it, before the logout's transaction still end with the
// sign-in, for endSignIn reads the credentials' links in that transaction.
func TestLogoutEndsTokensOfIdentitiesLinkedMeanwhile(t *testing.T) {
	stale := &User{ID: "100", IdentityID: "100", Root: true, LinkedIdentities: []string{"200"}}
	cur := &User{ID: "100", IdentityID: "100", Root: true, LinkedIdentities: []string{"200", "300"}}
	users := map[string]*User{"100": cur,
		"200": {ID: "200", IdentityID: "200", Root: true, CredentialsID: "100"},
		"300": {ID: "300", IdentityID: "300", Root: true, CredentialsID: "100"}}
	tx := logoutTx{&sessionsTx{m: map[string]*Session{}, users: users}}
	for _, s := range []*Session{
		{TokenHash: []byte("sign-in"), UserID: "100"},
		{TokenHash: []byte("access-200"), UserID: "200", SignIn: []byte("sign-in")},
		{TokenHash: []byte("access-300"), UserID: "300", SignIn: []byte("sign-in")},
	} {
		must.NoError(t, tx.InsertSession(s))
	}
	must.NoError(t, endSignIn(tx, stale, []byte("sign-in")))
	assert.Empty(t, tx.m, "every token of the sign-in ended")
}
