package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/password"
)

// work is what one call cost: store transactions, the writes in them that
// sign-in and password reset make, and password hashes.
type work struct {
	Views, Updates, Writes, Hashes int64
}

// countingStore counts transactions and writes on the way to the real store.
type countingStore struct {
	core.Store
	views, updates, writes atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(core.ReadTx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

func (c *countingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, func(tx core.Tx) error { return fn(countingTx{tx, &c.writes}) })
}

// countingTx counts the writes of the records sign-in and password reset
// touch, and of webhook deliveries.
type countingTx struct {
	core.Tx
	writes *atomic.Int64
}

func (t countingTx) UpdateUser(u *core.User) error { t.writes.Add(1); return t.Tx.UpdateUser(u) }
func (t countingTx) AppendAudit(e *core.AuditEvent) error {
	t.writes.Add(1)
	return t.Tx.AppendAudit(e)
}
func (t countingTx) SetCounter(key string, n int, exp time.Time) error {
	t.writes.Add(1)
	return t.Tx.SetCounter(key, n, exp)
}
func (t countingTx) IncrementCounter(key string, exp, now time.Time) (int, error) {
	t.writes.Add(1)
	return t.Tx.IncrementCounter(key, exp, now)
}
func (t countingTx) AppendWebhookDelivery(d *core.WebhookDelivery) error {
	t.writes.Add(1)
	return t.Tx.AppendWebhookDelivery(d)
}
func (t countingTx) UpdateWebhookDelivery(d *core.WebhookDelivery) error {
	t.writes.Add(1)
	return t.Tx.UpdateWebhookDelivery(d)
}
func (t countingTx) PutResetCode(c *core.ResetCode) error {
	t.writes.Add(1)
	return t.Tx.PutResetCode(c)
}

// hashCounter counts argon2id computations, as the password hasher reports
// them to its observer.
type hashCounter struct {
	core.NopObserver
	n *atomic.Int64
}

func (h hashCounter) Hashing(context.Context) func(time.Duration) {
	h.n.Add(1)
	return func(time.Duration) {}
}

// kindsOfUsers makes the users whose emails must cost what an unknown one
// does: known@ (a password), nopass@ (none yet) and gone@ (deactivated).
func (e *coreEnv) kindsOfUsers() {
	e.t.Helper()
	e.root(e.prog, "known@acme.test")
	_, _, err := e.svc.CreateIdentity(e.ctx, e.prog, core.NewIdentity{Type: core.Corporate, Name: "Nopass Ltd",
		Root: core.UserDetails{Name: "No", Surname: "Pass", Email: "nopass@acme.test", Mobile: &testMobile}})
	require.NoError(e.t, err)
	gone, _ := e.root(e.prog, "gone@acme.test")
	e.updateUser(gone.ID, func(u *core.User) { u.Active = false })
}

// meter is a second service over e's store whose work is counted.
type meter struct {
	svc    *core.Service
	store  *countingStore
	hashes atomic.Int64
}

func newMeter(e *coreEnv) *meter {
	e.t.Helper()
	m := &meter{store: &countingStore{Store: e.store}}
	svc, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, RateLimits: &core.RateLimits{},
		Observer: hashCounter{n: &m.hashes}}, m.store, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(e.t, err)
	m.svc = svc
	return m
}

// measure runs call and returns the work it did, including the email work it
// left running in the background.
func (m *meter) measure(call func(*core.Service)) work {
	v, u, w, h := m.store.views.Load(), m.store.updates.Load(), m.store.writes.Load(), m.hashes.Load()
	call(m.svc)
	m.svc.WaitForMail()
	return work{m.store.views.Load() - v, m.store.updates.Load() - u, m.store.writes.Load() - w, m.hashes.Load() - h}
}

// classOf is the error class of err, or nil.
func classOf(err error) error {
	var e *core.Error
	if errors.As(err, &e) {
		return e.Class
	}
	return nil
}

// TestSignInWorkIsTheSameForEveryEmail: a wrong password for a user costs
// exactly what an unknown email, a user without a password and a deactivated
// user cost (one read, one write transaction of two writes, one hash), and
// the fifth failure and the lockout that follows look alike too.
func TestSignInWorkIsTheSameForEveryEmail(t *testing.T) {
	e := newCoreEnv(t)
	e.kindsOfUsers()
	m := newMeter(e)

	emails := []string{"known@acme.test", "unknown@acme.test", "nopass@acme.test", "gone@acme.test"}
	type attempt struct {
		w     work
		class error
		retry time.Duration
	}
	var want []attempt
	for i, email := range emails {
		var got []attempt
		for range 7 {
			var err error
			w := m.measure(func(s *core.Service) { _, err = s.Login(e.ctx, e.prog, email, "Wr0ng-Passw0rd") })
			var ce *core.Error
			errors.As(err, &ce)
			require.NotNil(t, ce, "%s: %v", email, err)
			got = append(got, attempt{w, ce.Class, ce.RetryAfter.Round(time.Second)})
		}
		if i == 0 {
			want = got
			assert.Equal(t, work{Views: 1, Updates: 1, Writes: 2, Hashes: 1}, got[0].w, "a wrong password")
			assert.Equal(t, core.ErrInvalidCredentials, got[4].class, "the fifth failure")
			assert.Equal(t, core.ErrLocked, got[5].class, "then locked")
			assert.Equal(t, 30*time.Minute, got[5].retry)
			continue
		}
		for j := range got {
			assert.Equal(t, want[j].class, got[j].class, "%s attempt %d: answer", email, j+1)
			assert.Equal(t, want[j].retry, got[j].retry, "%s attempt %d: Retry-After", email, j+1)
			assert.Equal(t, want[j].w, got[j].w, "%s attempt %d: work", email, j+1)
		}
	}

	// The locks end together and counting starts afresh.
	e.clock.Advance(30 * time.Minute)
	for _, email := range emails {
		_, err := m.svc.Login(e.ctx, e.prog, email, "Wr0ng-Passw0rd")
		assert.Equal(t, core.ErrInvalidCredentials, classOf(err), "%s after the lock", email)
	}
	// Failures are forgotten a day after the last one, for users and unknown emails alike.
	for range 3 {
		for _, email := range emails {
			_, _ = m.svc.Login(e.ctx, e.prog, email, "Wr0ng-Passw0rd")
		}
	}
	e.clock.Advance(24 * time.Hour)
	for _, email := range emails {
		_, err := m.svc.Login(e.ctx, e.prog, email, "Wr0ng-Passw0rd")
		assert.Equal(t, core.ErrInvalidCredentials, classOf(err), "%s: a fifth failure a day later does not lock", email)
	}
}

// TestLostPasswordStartWorkIsTheSame: starting a reset for a user and for an
// unknown address cost one read and one write transaction after the answer
// (TestLostPasswordStartAnswersBeforeItsWork), the user's a write more (the
// code), and the user alone gets an email.
func TestLostPasswordStartWorkIsTheSame(t *testing.T) {
	e := newCoreEnv(t)
	e.root(e.prog, "known@acme.test")
	m := newMeter(e)
	known := m.measure(func(s *core.Service) { require.NoError(t, s.LostPasswordStart(e.ctx, e.prog, "known@acme.test")) })
	unknown := m.measure(func(s *core.Service) { require.NoError(t, s.LostPasswordStart(e.ctx, e.prog, "unknown@acme.test")) })
	assert.Equal(t, work{Views: 1, Updates: 1, Writes: 2}, known)
	assert.Equal(t, work{Views: 1, Updates: 1, Writes: 1}, unknown, "no reset code to store")
	m.svc.WaitForMail()
	require.Len(t, e.mail.all(), 1)
	assert.Equal(t, "known@acme.test", e.mail.all()[0].To)
}

// TestLostPasswordResumeWorkIsTheSame: a wrong reset code costs the same
// work for a user with a pending code, a user without one, a user without a
// password, a deactivated user and an unknown email (one write transaction
// of one write, no hash), and gets the same answer: its time tells nobody
// who exists or who asked for a reset.
func TestLostPasswordResumeWorkIsTheSame(t *testing.T) {
	e := newCoreEnv(t)
	e.kindsOfUsers()
	e.root(e.prog, "pending@acme.test")
	require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "pending@acme.test"))
	e.svc.WaitForMail()
	m := newMeter(e)

	resume := func(email string) (work, error) {
		var err error
		w := m.measure(func(s *core.Service) {
			_, err = s.LostPasswordResume(e.ctx, e.prog, email, "000000", "N3w-Passw0rd!")
		})
		return w, err
	}
	unknown, unknownErr := resume("unknown@acme.test")
	require.Equal(t, core.CodeInvalidNonceOrEmail, core.CodeOf(unknownErr))
	assert.Equal(t, work{Views: 0, Updates: 1, Writes: 1, Hashes: 0}, unknown)
	for _, email := range []string{"known@acme.test", "pending@acme.test", "nopass@acme.test", "gone@acme.test"} {
		w, err := resume(email)
		assert.Equal(t, unknownErr, err, "%s: the answer", email)
		assert.Equal(t, unknown, w, "%s: the work of a wrong code", email)
	}
}

// TestBiometricSignInWorkIsTheSame: a biometric sign-in (the public ui key
// may start one) costs a user with a phone the same writes as an unknown
// email's decoy: both store a challenge and an audit event in one
// transaction, so the answer's time tells nobody who has a phone.
func TestBiometricSignInWorkIsTheSame(t *testing.T) {
	e := newCoreEnv(t)
	prog, _ := e.phoneUser("ada@acme.test")
	m := newMeter(e)
	signIn := func(email string) work {
		return m.measure(func(s *core.Service) {
			_, err := s.LoginViaBiometrics(e.ctx, prog, email, core.IdentityRef{})
			require.NoError(t, err)
		})
	}
	unknown := signIn("nobody@acme.test")
	assert.Equal(t, work{Views: 0, Updates: 1, Writes: 1, Hashes: 0}, unknown)
	assert.Equal(t, unknown, signIn("ada@acme.test"), "a user with a phone vs an unknown email")
}

// onceAfterVerify runs then once, after the first password check it makes
// and before its caller sees the verdict.
type onceAfterVerify struct {
	core.PasswordHasher
	armed *atomic.Bool
	then  func()
}

func (h onceAfterVerify) VerifyEach(ctx context.Context, plain string, encoded []string, salt []byte) ([]password.Check, error) {
	checks, err := h.PasswordHasher.VerifyEach(ctx, plain, encoded, salt)
	if h.armed.CompareAndSwap(true, false) {
		h.then()
	}
	return checks, err
}

// TestSignInWithAPasswordChangedDuringItsCheck: a sign-in with the old
// password whose check outlasts a password change or reset opens no
// session, so that the change really ends every sign-in of the old
// password. (It used to commit its session after the change had ended the
// others.)
func TestSignInWithAPasswordChangedDuringItsCheck(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(e *coreEnv, token string)
	}{
		{"changed", func(e *coreEnv, token string) {
			_, err := e.svc.UpdatePassword(e.ctx, e.caller(e.prog, token), testPassword, "N3w-Passw0rd!")
			require.NoError(e.t, err)
		}},
		{"reset", func(e *coreEnv, _ string) {
			require.NoError(e.t, e.svc.LostPasswordStart(e.ctx, e.prog, "ada@acme.test"))
			_, err := e.svc.LostPasswordResume(e.ctx, e.prog, "ada@acme.test", core.SandboxCode, "N3w-Passw0rd!")
			require.NoError(e.t, err)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newCoreEnv(t)
			_, token := e.root(e.prog, "ada@acme.test")
			var armed atomic.Bool
			core.WrapHasher(e.svc, func(h core.PasswordHasher) core.PasswordHasher {
				return onceAfterVerify{h, &armed, func() { c.change(e, token) }}
			})
			armed.Store(true)
			in, err := e.svc.Login(e.ctx, e.prog, "ada@acme.test", testPassword)
			require.Equal(t, core.ErrInvalidCredentials, classOf(err), "the old password signs in no more: %v", in)
			_, err = e.svc.Login(e.ctx, e.prog, "ada@acme.test", "N3w-Passw0rd!")
			require.NoError(t, err, "the new one does")
		})
	}
}

// A session lifetime shorter than the idle timeout is refused at start:
// the idle timeout would never apply.
func TestSessionLifetimeBelowIdleRefused(t *testing.T) {
	e := newCoreEnv(t)
	_, err := core.New(e.ctx, core.Config{Sandbox: true, SessionIdle: time.Hour, SessionLifetime: 30 * time.Minute}, e.store,
		core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.ErrorContains(t, err, "session lifetime 30m0s is below the idle timeout 1h0m0s")
}

// TestSignInOneHashForEveryAccountOfAnEmail: a sign-in checks all the
// accounts an email has across identities with one argon2id hash, as it
// does for an email with one account or none, so that its time does not
// tell how many there are. A password hashed under another salt (here: its
// user's email changed to the shared one) costs a hash of its own until its
// user's next sign-in replaces it.
func TestSignInOneHashForEveryAccountOfAnEmail(t *testing.T) {
	e := newCoreEnv(t)
	const shared = "shared@acme.test"
	passwords := []string{"Ann3-Passw0rd!", "B3a-Passw0rd!!", "C4t-Passw0rd!!"}
	var ids []string
	for i, plain := range passwords {
		root := e.steppedUpRoot(e.prog, fmt.Sprintf("root%d@acme.test", i))
		u := e.createUser(root, shared, nil)
		_, err := e.svc.CreatePassword(e.ctx, e.prog, u.ID, plain)
		require.NoError(t, err)
		ids = append(ids, u.ID)
	}
	e.root(e.prog, "single@acme.test")
	m := newMeter(e)
	hashes := func(email, plain string) (int64, error) {
		var err error
		w := m.measure(func(s *core.Service) { _, err = s.Login(e.ctx, e.prog, email, plain) })
		return w.Hashes, err
	}

	for _, c := range []struct{ email, plain string }{
		{shared, "Wr0ng-Passw0rd"}, {shared, passwords[1]}, {"single@acme.test", "Wr0ng-Passw0rd"}, {"nobody@acme.test", "Wr0ng-Passw0rd"},
	} {
		n, _ := hashes(c.email, c.plain)
		assert.Equal(t, int64(1), n, "%s with %s", c.email, c.plain)
	}
	n, err := hashes(shared, passwords[1])
	require.NoError(t, err, "the one account whose password it is signs in")
	assert.Equal(t, int64(1), n)

	// A user whose email changed keeps a hash under their old email's salt;
	// another account then made for the new email has the new one's.
	root := e.steppedUpRoot(e.prog, "root-moved@acme.test")
	moved := e.createUser(root, "moved@acme.test", nil)
	_, err = e.svc.CreatePassword(e.ctx, e.prog, moved.ID, "D0g-Passw0rd!!")
	require.NoError(t, err)
	const later = "later@acme.test"
	email := later
	_, err = e.svc.UpdateUser(e.ctx, root, moved.ID, core.UserPatch{Email: &email})
	require.NoError(t, err)
	newcomer := e.createUser(e.steppedUpRoot(e.prog, "root-later@acme.test"), later, nil)
	_, err = e.svc.CreatePassword(e.ctx, e.prog, newcomer.ID, "E1k-Passw0rd!!")
	require.NoError(t, err)
	n, _ = hashes(later, "Wr0ng-Passw0rd")
	assert.Equal(t, int64(2), n, "two salts among the accounts")
	before := e.passwordHash(moved.ID)
	n, err = hashes(later, "D0g-Passw0rd!!")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "two salts, and the moved password's rehash under the new email's")
	assert.NotEqual(t, before, e.passwordHash(moved.ID))
	n, err = hashes(later, "D0g-Passw0rd!!")
	require.NoError(t, err, "the rehashed password signs in")
	assert.Equal(t, int64(1), n, "one salt again")
	assert.Equal(t, saltOf(e.passwordHash(newcomer.ID)), saltOf(e.passwordHash(moved.ID)))
	for i, id := range ids {
		assert.Equal(t, saltOf(e.passwordHash(ids[0])), saltOf(e.passwordHash(id)), "account %d: one salt", i)
	}
	assert.NotEqual(t, saltOf(e.passwordHash(ids[0])), saltOf(e.passwordHash(moved.ID)), "another email, another salt")
}

// saltOf is the salt field of a PHC string.
func saltOf(phc string) string { return strings.Split(phc, "$")[4] }

// passwordHash is a user's stored password hash.
func (e *coreEnv) passwordHash(userID string) string {
	e.t.Helper()
	var hash string
	require.NoError(e.t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		rec, err := tx.Password(userID)
		if err == nil {
			hash = rec.Hash
		}
		return err
	}))
	return hash
}

// A request admitted a moment before its session's lifetime ends must not
// commit after the end as if the session lived on: the lifetime is checked
// again in the action's own transaction, as a logout is
// (TestChallengeOfAnEndedSession). Unlike the idle timeout, which the
// admission itself pushes back, the lifetime's end is a fixed instant that
// any request may straddle (a body sent slowly, a password hashed).
func TestSessionLifetimeEndsInTheActionsTransaction(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.SessionIdle, c.SessionLifetime = 10*time.Minute, 10*time.Minute })
	u, token := e.root(e.prog, "root@acme.test")
	e.clock.Advance(10*time.Minute - time.Second)
	c := e.caller(e.prog, token) // admitted a second before the end
	e.clock.Advance(time.Second) // the request runs on past it

	err := e.svc.EnrolSMS(e.ctx, c)
	require.ErrorIs(t, err, core.ErrUnauthenticated, "got %v", err)
	assert.Empty(t, e.sms.all(), "no code for a session that ended")
	assert.Equal(t, core.FactorStatus(""), e.factorStatus(u.ID))

	_, err = e.svc.ExchangeToken(e.ctx, c, core.IdentityRef{})
	require.ErrorIs(t, err, core.ErrUnauthenticated, "no access token from a sign-in that ended, got %v", err)

	_, err = e.svc.UpdatePassword(e.ctx, c, testPassword, "An0ther-Passw0rd!")
	require.ErrorIs(t, err, core.ErrUnauthenticated, "no new session from one that ended, got %v", err)
	_, err = e.svc.Login(e.ctx, e.prog, "root@acme.test", testPassword)
	require.NoError(t, err, "the password is unchanged")
}
