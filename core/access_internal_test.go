package core

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// sessionsTx is the part of a Tx that signInUsers and endSessions use, over
// maps; any other call panics on the nil Tx it embeds.
type sessionsTx struct {
	Tx
	m     map[string]*Session
	users map[string]*User
}

func (tx *sessionsTx) User(id string) (*User, error) {
	if u, ok := tx.users[id]; ok {
		return u, nil
	}
	return nil, ErrRecordNotFound
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
// sessions ends those of the whole sign-in, whichever of its users it
// revokes: the credentials' own user or the root user of a linked identity
// (a "not me" on that root's device, a lock from guessing its codes). It
// keeps the acting session under endOtherSessions even when it is of
// another of them.
func TestEveryRevocationEndsAccessTokens(t *testing.T) {
	cred := &User{ID: "100", IdentityID: "100", Root: true, LinkedIdentities: []string{"200", "300"}}
	linked := &User{ID: "200", IdentityID: "200", Root: true, CredentialsID: "100"}
	users := map[string]*User{"100": cred, "200": linked, "400": {ID: "400", IdentityID: "400", Root: true}}
	for reason, e := range revocationPolicy {
		for _, revoked := range []*User{cred, linked} {
			t.Run(string(reason)+"/"+revoked.ID, func(t *testing.T) {
				tx := &sessionsTx{m: map[string]*Session{}, users: users}
				for _, s := range []*Session{
					{TokenHash: []byte("sign-in"), UserID: "100", AuthOnly: true},
					{TokenHash: []byte("access-100"), UserID: "100", SignIn: []byte("sign-in")},
					{TokenHash: []byte("access-200"), UserID: "200", SignIn: []byte("sign-in")},
					{TokenHash: []byte("access-300"), UserID: "300", SignIn: []byte("sign-in")},
					{TokenHash: []byte("someone-else"), UserID: "400"},
				} {
					must.NoError(t, tx.InsertSession(s))
				}
				ids, err := signInUsers(tx, revoked)
				must.NoError(t, err)
				must.Equal(t, []string{"100", "200", "300"}, ids)
				must.NoError(t, endSessions(tx, ids, e.sessions, []byte("access-300")))
				var left []string
				for k := range tx.m {
					left = append(left, k)
				}
				slices.Sort(left)
				switch e.sessions {
				case keepSessions:
					assert.Len(t, left, 5)
				case endOtherSessions:
					assert.Equal(t, []string{"access-300", "someone-else"}, left)
				case endAllSessions:
					assert.Equal(t, []string{"someone-else"}, left)
				}
			})
		}
	}
}
