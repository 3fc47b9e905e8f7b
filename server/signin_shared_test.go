package server_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedEmail is the address two users of different identities share.
const sharedEmail = "shared@acme.test"

// Their passwords.
const (
	passwordA = "Ann3-Passw0rd!"
	passwordB = "B3a-Passw0rd!!"
)

// sharedPair creates two corporates, each with a user of sharedEmail, with
// passwords a and b; it returns the users and their root users.
func (e *env) sharedPair(a, b string) (userA, userB, rootA, rootB member) {
	e.t.Helper()
	rootA = e.adminRoot("root-a@acme.test")
	rootB = e.adminRoot("root-b@acme.test")
	return e.memberWithPassword(rootA, a), e.memberWithPassword(rootB, b), rootA, rootB
}

// memberWithPassword creates a user of sharedEmail as root and sets their password.
func (e *env) memberWithPassword(root member, password string) member {
	e.t.Helper()
	id := e.createUser(root.token, userBody(sharedEmail))
	r := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(password)})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return member{id: id, email: sharedEmail, token: str(e.t, r.json(e.t), "token")}
}

// signedInAs is the user id of a successful sign-in.
func signedInAs(t *testing.T, r resp) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return str(t, r.json(t), "credentials", "id")
}

// locked reads whether a user is locked, as their root user sees it in a new session.
func (e *env) locked(root member, id string) bool {
	e.t.Helper()
	token := str(e.t, e.login(root.email, testPassword).json(e.t), "token")
	return e.userStatus(token, id)["locked"] == true
}

// wrongCurrentPassword changes m's password with a wrong current one.
func (e *env) wrongCurrentPassword(m member) resp {
	e.t.Helper()
	return e.auth(m.token, "POST", "/multi/passwords/update",
		map[string]any{"oldPassword": pw("Wr0ng-Passw0rd"), "newPassword": pw("N3w-Passw0rd!")})
}

// TestSignInBelongsToOneUser: users of two identities share an email. Each
// password opens its own user only; one user's sign-ins never count against
// the other; a wrong password is a guess against both and locks both; a
// user locked alone does not stop the other.
func TestSignInBelongsToOneUser(t *testing.T) {
	e := newEnv(t)
	a, b, rootA, rootB := e.sharedPair(passwordA, passwordB)

	assert.Equal(t, a.id, signedInAs(t, e.login(sharedEmail, passwordA)), "A's password opens A")
	assert.Equal(t, b.id, signedInAs(t, e.login(sharedEmail, passwordB)), "B's password opens B, never A")

	// B's sign-ins are not failed guesses at A.
	for range 6 {
		signedInAs(t, e.login(sharedEmail, passwordB))
	}
	for range 4 {
		require.Equal(t, http.StatusForbidden, e.login(sharedEmail, "Wr0ng-Passw0rd").status)
	}
	assert.Equal(t, a.id, signedInAs(t, e.login(sharedEmail, passwordA)), "four failures and B's six sign-ins leave A open")

	// Wrong current passwords count against A alone, up to the lockout.
	for i := range 5 {
		wantConflict(t, e.wrongCurrentPassword(a), "PASSWORD_INCORRECT", "attempt %d", i+1)
	}
	r := e.auth(a.token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(passwordA), "newPassword": pw("N3w-Passw0rd!")})
	require.Equal(t, http.StatusLocked, r.status, "the right current password is refused while locked: %s", r.body)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.True(t, e.locked(rootA, a.id))
	assert.False(t, e.locked(rootB, b.id), "A's lockout is not B's")
	assert.Equal(t, b.id, signedInAs(t, e.login(sharedEmail, passwordB)), "B signs in while A is locked")
	assert.Equal(t, http.StatusForbidden, e.login(sharedEmail, passwordA).status,
		"A's password is checked against B only, and is wrong for B")

	// After A's lock, wrong passwords at the shared email are guesses at B;
	// once both are locked the email answers 423.
	e.advance(30 * time.Minute)
	assert.Equal(t, a.id, signedInAs(t, e.login(sharedEmail, passwordA)))
	assert.Equal(t, b.id, signedInAs(t, e.login(sharedEmail, passwordB)), "B's count starts again after a sign-in")
	for i := range 5 {
		require.Equal(t, http.StatusForbidden, e.login(sharedEmail, "Wr0ng-Passw0rd").status, "attempt %d", i+1)
	}
	assert.True(t, e.locked(rootA, a.id), "a guess at the shared email is a guess at A")
	assert.True(t, e.locked(rootB, b.id), "and at B")
	r = e.login(sharedEmail, passwordB)
	assert.Equal(t, http.StatusLocked, r.status)
	assert.Equal(t, "1800", r.header.Get("Retry-After"))
}

// TestSignInWithAPasswordTwoUsersShare: a password that opens two users of
// one email opens neither and counts as no failure.
func TestSignInWithAPasswordTwoUsersShare(t *testing.T) {
	e := newEnv(t)
	a, b, rootA, rootB := e.sharedPair(testPassword, testPassword)
	for range 6 {
		assert.Equal(t, http.StatusForbidden, e.login(sharedEmail, testPassword).status)
	}
	assert.False(t, e.locked(rootA, a.id))
	assert.False(t, e.locked(rootB, b.id))
	assert.Equal(t, 2*6, count(e.auditActions(), "login.ambiguous"))
}

// TestSharedEmailLockoutUnderParallelAttempts fires, at once, 25 wrong current
// passwords from A's session and 25 right sign-ins of B: exactly five wrong
// passwords are counted before A locks, and every one of B's sign-ins opens B.
// Then 50 parallel wrong sign-ins at the shared email lock both after exactly five.
func TestSharedEmailLockoutUnderParallelAttempts(t *testing.T) {
	e := newEnv(t)
	a, b, rootA, rootB := e.sharedPair(passwordA, passwordB)
	const n = 25
	updates, signIns := make([]resp, n), make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() { <-start; updates[i] = e.wrongCurrentPassword(a) })
		wg.Go(func() { <-start; signIns[i] = e.login(sharedEmail, passwordB) })
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for i := range n {
		statuses[updates[i].status]++
		assert.Equal(t, b.id, signedInAs(t, signIns[i]), "sign-in %d", i)
	}
	assert.Equal(t, map[int]int{http.StatusConflict: 5, http.StatusLocked: n - 5}, statuses)
	assert.True(t, e.locked(rootA, a.id))
	assert.False(t, e.locked(rootB, b.id))

	e.advance(30 * time.Minute)
	statuses = map[int]int{}
	var mu sync.Mutex
	for range 2 * n {
		wg.Go(func() {
			s := e.login(sharedEmail, "Wr0ng-Passw0rd").status
			mu.Lock()
			statuses[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusForbidden: 5, http.StatusLocked: 2*n - 5}, statuses)
	assert.True(t, e.locked(rootA, a.id))
	assert.True(t, e.locked(rootB, b.id))
}

// TestUnknownEmailsLockLikeKnownOnes: an unknown email, a user without a
// password and a deactivated user answer a run of wrong passwords exactly as
// a user does: five 403s with the same body, then 423 with the same
// Retry-After until the lock ends, then 403 again.
func TestUnknownEmailsLockLikeKnownOnes(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	e.newCorporateWithoutPassword("nopass@acme.test")
	gone := e.withPassword(root.token, "gone@acme.test")
	e.deactivate(gone.id)
	emails := []string{"root@acme.test", "nobody@acme.test", "nopass@acme.test", "gone@acme.test"}

	type answer struct {
		status     int
		body       string
		retryAfter string
	}
	run := func(email string, n int) []answer {
		var out []answer
		for range n {
			r := e.login(email, "Wr0ng-Passw0rd")
			out = append(out, answer{r.status, string(r.body), r.header.Get("Retry-After")})
		}
		return out
	}
	want := run(emails[0], 7)
	require.Equal(t, http.StatusForbidden, want[4].status)
	require.Equal(t, http.StatusLocked, want[5].status)
	for _, email := range emails[1:] {
		assert.Equal(t, want, run(email, 7), email)
	}
	e.advance(29 * time.Minute)
	for _, email := range emails {
		assert.Equal(t, []answer{{http.StatusLocked, want[5].body, "60"}}, run(email, 1), "%s a minute before the end", email)
	}
	e.advance(time.Minute)
	for _, email := range emails {
		assert.Equal(t, want[:1], run(email, 1), "%s after the lock", email)
	}
}

// TestNewRootCannotTakeAUsersEmail: a new identity's root user may not have
// the email of another user of the programme. Otherwise whoever creates an
// identity (a public sign-up form reaches corporate creation) could give its
// root a victim's address and a password of their choosing, and learn from
// the shared sign-in, refused as ambiguous or not, whether their guess is
// the victim's password.
func TestNewRootCannotTakeAUsersEmail(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root-a@acme.test")
	victim := e.memberWithPassword(root, passwordA)
	created := count(e.auditActions(), "identity.create")

	requireConflict(t, e.key("POST", "/multi/corporates", corporateBody("Shared@Acme.test")), "ROOT_EMAIL_NOT_UNIQUE")
	requireConflict(t, e.key("POST", "/multi/consumers", consumerBody(sharedEmail)), "ROOT_EMAIL_NOT_UNIQUE")
	assert.Equal(t, created, count(e.auditActions(), "identity.create"), "nothing created")
	assert.Equal(t, victim.id, signedInAs(t, e.login(sharedEmail, passwordA)), "the sign-in is still the victim's alone")

	otherKey := e.otherProgramme("Other")
	r := e.call("POST", "/multi/corporates", corporateBody(sharedEmail), "api-key", otherKey)
	assert.Equal(t, http.StatusOK, r.status, "another programme's users are not this one's: %s", r.body)
}

// TestUserCannotTakeARootsEmail: the other half of
// TestNewRootCannotTakeAUsersEmail. Whoever creates an identity first (a
// public sign-up) can give its root an address whose owner has no account
// yet, with a password of their choosing. Were another identity then able to
// make a user of that address, once its owner accepted, the squatter would
// change their root's password to each guess and learn from the shared
// sign-in, refused as ambiguous or not, which guess is the owner's password.
// So a user may not have the email of another identity's root until that
// root verified it, which only the address's owner can do.
func TestUserCannotTakeARootsEmail(t *testing.T) {
	e := newEnv(t)
	squatter, squatterToken := e.corporate(sharedEmail) // before the owner has any account
	employer := e.adminRoot("root-b@acme.test")

	requireConflict(t, e.auth(employer.token, "POST", usersPath, userBody("Shared@Acme.test")), "EMAIL_NOT_UNIQUE")
	assert.Equal(t, squatter, signedInAs(t, e.login(sharedEmail, testPassword)), "the sign-in is still the root's alone")
	r := e.auth(squatterToken, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw(passwordA)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, squatter, signedInAs(t, e.login(sharedEmail, passwordA)), "a guess is the root's password, whatever it is")

	// A root whose owner verified its email may have a user of it elsewhere.
	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/send", map[string]any{"email": sharedEmail}))
	wantNoContent(t, e.key("POST", "/multi/corporates/verification/email/verify", map[string]any{"email": sharedEmail, "verificationCode": sandboxCode}))
	e.createUser(employer.token, userBody(sharedEmail))
}
