package core

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// sessionsTx is the part of a Tx that endSessions uses, over a map; any
// other call panics on the nil Tx it embeds.
type sessionsTx struct {
	Tx
	m map[string]*Session
}

func (tx *sessionsTx) Session(hash []byte) (*Session, error) {
	if s, ok := tx.m[string(hash)]; ok {
		return s, nil
	}
	return nil, ErrRecordNotFound
}

func (tx *sessionsTx) InsertSession(s *Session) error {
	tx.m[string(s.TokenHash)] = s
	return nil
}

func (tx *sessionsTx) DeleteUserSessions(userID string) (int, error) {
	n := 0
	for k, s := range tx.m {
		if s.UserID == userID {
			delete(tx.m, k)
			n++
		}
	}
	return n, nil
}

// TestEveryRevocationEndsAccessTokens: every row of the policy that ends
// sessions ends the access tokens of the credentials' linked identities too,
// and keeps the acting session under endOtherSessions even when it is one
// of them.
func TestEveryRevocationEndsAccessTokens(t *testing.T) {
	cred := &User{ID: "100", IdentityID: "100", Root: true, LinkedIdentities: []string{"200", "300"}}
	for reason, e := range revocationPolicy {
		t.Run(string(reason), func(t *testing.T) {
			tx := &sessionsTx{m: map[string]*Session{}}
			for _, s := range []*Session{
				{TokenHash: []byte("sign-in"), UserID: "100", AuthOnly: true},
				{TokenHash: []byte("access-100"), UserID: "100", SignIn: []byte("sign-in")},
				{TokenHash: []byte("access-200"), UserID: "200", SignIn: []byte("sign-in")},
				{TokenHash: []byte("access-300"), UserID: "300", SignIn: []byte("sign-in")},
				{TokenHash: []byte("someone-else"), UserID: "400"},
			} {
				must.NoError(t, tx.InsertSession(s))
			}
			must.NoError(t, endSessions(tx, cred, e.sessions, []byte("access-200")))
			var left []string
			for k := range tx.m {
				left = append(left, k)
			}
			slices.Sort(left)
			switch e.sessions {
			case keepSessions:
				assert.Len(t, left, 5)
			case endOtherSessions:
				assert.Equal(t, []string{"access-200", "someone-else"}, left)
			case endAllSessions:
				assert.Equal(t, []string{"someone-else"}, left)
			}
		})
	}
}
