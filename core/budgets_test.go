package core_test

// Budgets (issue 12, point 6) that HTTP cannot show as well: real
// (non-sandbox) invite codes, the silent email budget of lost-password start,
// notices, and how client addresses are counted.

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// testIP is the client address of calls whose address does not matter.
const testIP = "203.0.113.7"

// withLimits sets the service's rate limits (and nothing else: the rest are off).
func withLimits(rl core.RateLimits) func(*core.Config) {
	return func(c *core.Config) { c.RateLimits = &rl }
}

// alignClock moves the clock one second past the start of the next window of
// length w, so that a whole fixed window lies ahead of the test.
func (e *coreEnv) alignClock(w time.Duration) {
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(w).Add(w + time.Second).Sub(now))
}

// invitedUser creates an authorised user and invites them; it returns the
// user's id and the invite code from the email.
func (e *coreEnv) invitedUser(root *core.Caller, email string) (id, code string) {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: email}})
	require.NoError(e.t, err)
	require.NoError(e.t, e.svc.SendInvite(e.ctx, root, u.ID))
	_, code = e.lastInvite(email)
	return u.ID, code
}

// Wrong invite codes are throttled per invite and never void it: the right
// code still works, from any address, after the budget is spent. Unknown users
// are throttled alike, so a 429 does not tell that an invite exists.
func TestWrongInviteCodesNeverVoidTheInvite(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false },
		withLimits(core.RateLimits{InviteWrongPerInvite: core.RateLimit{Requests: 3, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	id, code := e.invitedUser(root, "bea@acme.test")
	wrong := strings.Repeat("A", len(code))

	for i := range 3 {
		requireCode(t, e.svc.ValidateInvite(e.ctx, e.prog, id, wrong, fmt.Sprintf("203.0.113.%d", i)), core.ErrConflict, core.CodeInviteInvalid, "wrong code %d", i+1)
	}
	ce := rateLimited(t, e.svc.ValidateInvite(e.ctx, e.prog, id, wrong, "198.51.100.1"))
	assert.Equal(t, 3, ce.Limit)
	_, err := e.svc.ConsumeInvite(e.ctx, e.prog, id, wrong, testPassword, nil, "198.51.100.2")
	rateLimited(t, err)

	for i := range 3 {
		requireCode(t, e.svc.ValidateInvite(e.ctx, e.prog, "999999", code, testIP), core.ErrConflict, core.CodeInviteInvalid, "unknown user %d", i+1)
	}
	rateLimited(t, e.svc.ValidateInvite(e.ctx, e.prog, "999999", code, testIP))

	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, "198.51.100.3"), "the right code is never refused for the invite's budget")
	_, err = e.svc.ConsumeInvite(e.ctx, e.prog, id, code, testPassword, nil, "198.51.100.3")
	require.NoError(t, err)
	assert.True(t, e.user(id).PasswordSet)
}

// Invite checks are counted per client address, an IPv6 client by its /64:
// over budget even the right code is refused from that address, not from others.
func TestInviteChecksAreCountedPerAddress(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{InvitePerIP: core.RateLimit{Requests: 2, Window: 15 * time.Minute}}))
	e.alignClock(15 * time.Minute)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	id, code := e.invitedUser(root, "bea@acme.test")

	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, "2001:db8:1:2::1"))
	requireCode(t, e.svc.ValidateInvite(e.ctx, e.prog, id, "654321", "2001:db8:1:2:ffff:ffff:ffff:ffff"), core.ErrConflict, core.CodeInviteInvalid)
	ce := rateLimited(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, "2001:db8:1:2::99"), "a third call from the same /64")
	assert.Equal(t, 2, ce.Limit)
	assert.True(t, ce.RetryAfter > 14*time.Minute && ce.RetryAfter <= 14*time.Minute+59*time.Second, "retry after %v: the rest of the window", ce.RetryAfter)
	_, err := e.svc.ConsumeInvite(e.ctx, e.prog, id, code, testPassword, nil, "2001:db8:1:2::1")
	rateLimited(t, err, "consume counts too")

	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, "2001:db8:1:3::1"), "the next /64")
	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, testIP), "an IPv4 address")
	for range 3 {
		require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, ""), "the embedder's backend has no client address to count")
	}
	e.clock.Advance(15 * time.Minute)
	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, id, code, "2001:db8:1:2::1"), "a new window")
}

// Sign-in budgets count IPv6 clients by /64 too, and an IPv4-mapped address
// as the IPv4 address.
func TestCheckRateCountsIPv6ByPrefix(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 2, Window: time.Minute}}))
	e.alignClock(time.Minute)
	tests := []struct {
		name  string
		calls []string
		last  string
		share bool
	}{
		{"one /64", []string{"2001:db8:aa:bb::1", "2001:db8:aa:bb:1:2:3:4"}, "2001:db8:aa:bb:ffff::", true},
		{"neighbouring /64s", []string{"2001:db8:cc:1::1", "2001:db8:cc:1::2"}, "2001:db8:cc:2::1", false},
		{"zone ignored", []string{"fe80::1%eth0", "fe80::2%eth1"}, "fe80::3", true},
		{"IPv4-mapped", []string{"::ffff:192.0.2.1", "192.0.2.1"}, "::ffff:c000:201", true},
		{"IPv4 addresses apart", []string{"192.0.2.10", "192.0.2.10"}, "192.0.2.11", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ip := range tt.calls {
				require.NoError(t, e.svc.CheckRate(e.ctx, core.RateLogin, e.prog, ip))
			}
			err := e.svc.CheckRate(e.ctx, core.RateLogin, e.prog, tt.last)
			if tt.share {
				rateLimited(t, err, "%s shares the count of %v", tt.last, tt.calls)
			} else {
				assert.NoError(t, err, "%s has its own count", tt.last)
			}
		})
	}
}

// Over the address's email budget, lost-password start answers the same but
// sends nothing, and the code last sent stays valid (no new code replaces it).
func TestLostPasswordStartOverEmailBudgetIsSilent(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false },
		withLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	e.root(e.prog, "root@acme.test")

	for range 4 {
		require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "ROOT@acme.test"), "always the same answer")
		e.svc.WaitForMail() // each email goes out after its answer: in order, and counted once sent
	}
	require.Len(t, e.mail.all(), 2, "only the budget was sent")
	last := resetCode(t, e.mail.all()[1])
	_, err := e.svc.LostPasswordResume(e.ctx, e.prog, "root@acme.test", last, "N3w-Passw0rd!")
	require.NoError(t, err, "the last code sent still works")

	e.clock.Advance(time.Hour)
	require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"))
	e.svc.WaitForMail()
	resets := slices.DeleteFunc(e.mail.all(), func(m core.Email) bool { return !strings.Contains(m.Subject, "reset your password") })
	assert.Len(t, resets, 3, "a new window (beside the notice of the reset)")
}

// resetCode returns the code of a reset-password email.
func resetCode(t *testing.T, m core.Email) string {
	t.Helper()
	for _, f := range strings.Fields(m.Text) {
		if len(f) == 6 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	t.Fatalf("no code in %q", m.Text)
	return ""
}

// Invites spend the address's email budget: a re-invite over it is refused,
// sends nothing and leaves the previous code valid.
func TestInvitesSpendTheEmailBudget(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
	require.NoError(t, err)

	require.NoError(t, e.svc.SendInvite(e.ctx, root, u.ID))
	require.NoError(t, e.svc.SendInvite(e.ctx, root, u.ID))
	before := e.mail.all()
	ce := rateLimited(t, e.svc.SendInvite(e.ctx, root, u.ID))
	assert.Equal(t, 2, ce.Limit)
	assert.Equal(t, before, e.mail.all(), "nothing sent")
	_, code := e.lastInvite("bea@acme.test")
	require.NoError(t, e.svc.ValidateInvite(e.ctx, e.prog, u.ID, code, testIP), "the refused re-invite did not replace the code")
}

// Notices sent after the fact (here the SCA lock alert) spend the address's
// notice budget; over it they are dropped and logged, and the change stands.
func TestNoticesSpendTheNoticeBudget(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.SCAFailureLimit = 1 },
		withLimits(core.RateLimits{NoticesPerAddress: core.RateLimit{Requests: 1, Window: 24 * time.Hour}}))
	e.alignClock(24 * time.Hour)
	c := e.enrolled(e.prog, "root@acme.test")
	lockSCA := func() {
		t.Helper()
		require.NoError(t, e.svc.StepUpSMS(e.ctx, c, ""))
		requireCode(t, e.svc.VerifyStepUpSMS(e.ctx, c, "000000"), core.ErrConflict, core.CodeChallengeLimitExceeded)
	}
	lockSCA()
	require.Len(t, e.mail.all(), 1, "the first alert")
	e.clock.Advance(31 * time.Minute)
	c = e.caller(e.prog, e.login(e.prog, "root@acme.test"))
	lockSCA()
	assert.Len(t, e.mail.all(), 1, "the second alert is over the budget")
	assert.Contains(t, e.logs.String(), `"msg":"background work failed","work":"security_alert","error":"rate limited"`, "a dropped notice is logged")
}

// Lost-password requests that use up the address's email budget keep no
// notice from its owner: the reset that follows is told all the same.
func TestCodesLeaveTheNoticeBudget(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false }, withLimits(core.RateLimits{
		EmailPerAddress:   core.RateLimit{Requests: 2, Window: time.Hour},
		NoticesPerAddress: core.RateLimit{Requests: 2, Window: time.Hour},
	}))
	e.alignClock(time.Hour)
	e.root(e.prog, "root@acme.test")
	for range 5 { // an outsider spends the email budget and more, one reset after the other
		require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"))
		e.svc.WaitForMail() // else a later request's code, stored first, would void the earlier ones
	}
	require.Len(t, e.mail.all(), 2, "codes up to the email budget")

	// The codes are sent after each answer, so they may arrive in either
	// order: the one issued last works.
	var err error
	for _, m := range e.mail.all() {
		if _, err = e.svc.LostPasswordResume(e.ctx, e.prog, "root@acme.test", resetCode(t, m), "N3w-Passw0rd!"); err == nil {
			break
		}
	}
	require.NoError(t, err)
	e.svc.WaitForMail()
	require.Len(t, e.mail.all(), 3)
	assert.NotContains(t, e.mail.all()[2].Subject, "reset your password", "the notice of the reset went out")
}

// DefaultRateLimits hands out a copy: changing it changes nobody else's
// defaults. Every budget is on by default.
func TestDefaultRateLimitsAreACopy(t *testing.T) {
	d := core.DefaultRateLimits()
	d.SMSPerUser.Requests = 1_000_000
	assert.Equal(t, 10, core.DefaultRateLimits().SMSPerUser.Requests)

	v := reflect.ValueOf(core.DefaultRateLimits())
	for i := range v.NumField() {
		l := v.Field(i).Interface().(core.RateLimit)
		assert.True(t, l.Requests > 0 && l.Window >= time.Minute, "%s is on: %+v", v.Type().Field(i).Name, l)
	}
}

// A limit with a window under a second is a configuration error.
func TestRateLimitWindowsAreChecked(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	outbox := core.NewOutbox(store, core.NewOffsetClock(nil))
	rl := core.DefaultRateLimits()
	rl.InvitePerIP.Window = 0
	_, err = core.New(context.Background(), core.Config{RateLimits: &rl}, store, core.Integrations{SMS: outbox, Email: outbox}, core.NewOffsetClock(nil))
	require.ErrorContains(t, err, "InvitePerIP")
	rl.InvitePerIP.Requests = 0 // off: the window does not matter
	_, err = core.New(context.Background(), core.Config{RateLimits: &rl, PasswordParams: testParams}, store, core.Integrations{SMS: outbox, Email: outbox}, core.NewOffsetClock(nil))
	require.NoError(t, err)
}

// Email changes are counted per identity, refused ones too: a change to an
// address another user of the programme signs in with is refused
// (EMAIL_NOT_UNIQUE), so that refusal tells whoever asks that the address has
// an account. Without a count, one stepped-up session could ask it of every
// address it likes. Over the budget every change is refused (429), the taken
// address's refusal included, so nothing more is learnt; another identity has
// its own budget, and the next window allows changes again.
func TestEmailChangesAreCountedPerIdentity(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{EmailChangesPerIdentity: core.RateLimit{Requests: 3, Window: time.Hour}}))
	e.alignClock(time.Hour)
	e.root(e.prog, "victim@acme.test")
	mallory := e.steppedUpRoot(e.prog, "mallory@evil.test")
	bea := e.steppedUpRoot(e.prog, "bea@beta.test")
	change := func(c *core.Caller, email string) error {
		_, err := e.svc.UpdateRootUser(e.ctx, c, core.UserPatch{Email: &email}, nil)
		return err
	}
	assert.Equal(t, core.CodeEmailNotUnique, core.CodeOf(change(mallory, "victim@acme.test")), "a taken address")
	assert.Equal(t, core.CodeEmailNotUnique, core.CodeOf(change(mallory, "VICTIM@acme.test")), "refused changes count")
	require.NoError(t, change(mallory, "nobody@acme.test"))
	assert.ErrorIs(t, change(mallory, "victim@acme.test"), core.ErrRateLimited, "a taken address over the budget")
	assert.ErrorIs(t, change(mallory, "other@acme.test"), core.ErrRateLimited, "a free address over the budget")
	require.NoError(t, change(bea, "bea@gamma.test"), "another identity's budget")
	e.clock.Advance(time.Hour)
	require.NoError(t, change(mallory, "other@acme.test"), "a new window")
}

// Searches of the users table, which read every user of the identity, are
// counted per user: over the budget a search is refused (429) while plain
// pages still list; another user has their own budget; the next window
// allows searching again.
func TestSearchesAreCountedPerUser(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{SearchesPerUser: core.RateLimit{Requests: 2, Window: time.Minute}}))
	ada := e.steppedUpRoot(e.prog, "ada@acme.test")
	bea := e.steppedUpRoot(e.prog, "bea@beta.test")
	search := core.UserFilter{Search: "grace"}
	for range 2 {
		_, err := e.svc.ListUsers(e.ctx, ada, search)
		require.NoError(t, err)
	}
	_, err := e.svc.ListUsers(e.ctx, ada, search)
	assert.ErrorIs(t, err, core.ErrRateLimited)
	_, err = e.svc.ListUsers(e.ctx, ada, core.UserFilter{})
	assert.NoError(t, err, "a page without a search is not counted")
	_, err = e.svc.ListUsers(e.ctx, bea, search)
	assert.NoError(t, err, "another user's budget")
	e.clock.Advance(time.Minute)
	_, err = e.svc.ListUsers(e.ctx, ada, search)
	assert.NoError(t, err, "a new window")
}

// Bulk submissions spend one per row from their identity's budget, exactly
// under parallel submissions: a submission that would exceed it is refused
// with 429 and stores nothing; another identity has its own budget; the
// budget comes back with the next window.
func TestBulkOperationsAreCountedPerIdentity(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{BulkOperationsPerIdentity: core.RateLimit{Requests: 10, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	submit := func(c *core.Caller, rows int) error {
		_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("b", rows))
		return err
	}
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := submit(root, 3)
			if err == nil {
				accepted.Add(1)
				return
			}
			var ce *core.Error
			if assert.ErrorAs(t, err, &ce) {
				assert.ErrorIs(t, err, core.ErrRateLimited)
				assert.Positive(t, ce.RetryAfter, "the rest of the window")
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(3), accepted.Load(), "9 of 10 rows spent by three bulks of three")
	require.NoError(t, submit(root, 1), "the tenth row")
	assert.ErrorIs(t, submit(root, 1), core.ErrRateLimited)
	bulks, n, err := e.svc.ListBulks(e.ctx, root, "", 0, 100)
	require.NoError(t, err)
	assert.Equal(t, 4, n, "refused submissions stored nothing")
	rows := 0
	for _, b := range bulks {
		rows += b.Count
	}
	assert.Equal(t, 10, rows)

	require.NoError(t, submit(e.steppedUpRoot(e.prog, "other@acme.test"), 10), "another identity's budget")
	e.clock.Advance(time.Hour)
	require.NoError(t, submit(root, 10), "the next window")
}

// Invites spend one each from their identity's budget, sent one by one or
// in a bulk, exactly under parallel sends: over it an invite is refused
// with 429 and neither stores a code nor emails; another identity has its
// own budget; the budget comes back with the next window.
func TestInvitesAreCountedPerIdentity(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{InvitesPerIdentity: core.RateLimit{Requests: 5, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.steppedUpRoot(e.prog, "root@acme.test")
	var users []string
	for i := range 10 {
		u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith",
			Email: fmt.Sprintf("stranger%d@example.com", i)}})
		require.NoError(t, err)
		users = append(users, u.ID)
	}
	mailed := len(e.mail.all())
	var sent atomic.Int64
	var wg sync.WaitGroup
	for _, id := range users[:8] {
		wg.Go(func() {
			err := e.svc.SendInvite(e.ctx, root, id)
			if err == nil {
				sent.Add(1)
				return
			}
			assert.ErrorIs(t, err, core.ErrRateLimited)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(5), sent.Load())
	assert.Len(t, e.mail.all(), mailed+5, "an invite refused emailed nobody")

	b, err := e.svc.SubmitUserInviteBulk(e.ctx, root, users[8:])
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, root, b.ID, core.BulkContinue))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpFailed, Count: 2}}, e.bulkRecord(b.ID).StatusCounts(), "a bulk spends the same budget")

	other := e.steppedUpRoot(e.prog, "other@acme.test")
	u, err := e.svc.CreateUser(e.ctx, other, core.NewUser{UserDetails: core.UserDetails{Name: "Cy", Surname: "Jones", Email: "cy@example.com"}})
	require.NoError(t, err)
	require.NoError(t, e.svc.SendInvite(e.ctx, other, u.ID), "another identity's budget")
	e.clock.Advance(time.Hour)
	require.NoError(t, e.svc.SendInvite(e.ctx, root, users[9]), "the next window")
}

// Reset codes are budgeted per address over a day as well as emails by the
// hour: each code takes five guesses, so without it a guesser could renew
// them with every window of the email budget, day after day. Over it,
// lost-password start answers the same and sends nothing.
func TestLostPasswordCodesPerAddressBoundTheGuesses(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false }, withLimits(core.RateLimits{
		EmailPerAddress:      core.RateLimit{Requests: 100, Window: time.Hour},
		EmailCodesPerAddress: core.RateLimit{Requests: 2, Window: 24 * time.Hour},
	}))
	e.alignClock(24 * time.Hour)
	e.root(e.prog, "root@acme.test")
	resets := func() []core.Email {
		e.svc.WaitForMail() // codes go out after the answer
		return slices.DeleteFunc(e.mail.all(), func(m core.Email) bool { return !strings.Contains(m.Subject, "reset your password") })
	}

	for range 2 { // two codes, each guessed until it is void
		require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"))
		right := resetCode(t, resets()[len(resets())-1])
		for i := range 5 {
			_, err := e.svc.LostPasswordResume(e.ctx, e.prog, "root@acme.test", wrongCode(right, i), "N3w-Passw0rd!")
			require.Error(t, err)
		}
	}
	e.clock.Advance(2 * time.Hour) // a new window of the email budget
	require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"), "the same answer")
	require.Len(t, resets(), 2, "no third code the same day")

	e.clock.Advance(22 * time.Hour)
	require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"))
	require.Len(t, resets(), 3, "a new day")
	_, err := e.svc.LostPasswordResume(e.ctx, e.prog, "root@acme.test", resetCode(t, resets()[2]), "N3w-Passw0rd!")
	require.NoError(t, err)
}

// Email verification codes spend the same daily budget of emailed codes as
// lost-password ones: nobody can renew an address's verification codes
// window after window to guess one. Over it the send is refused (the
// verification answer already says whether the address is known).
func TestEmailCodesPerAddressBoundVerificationCodes(t *testing.T) {
	e := newCoreEnv(t, withLimits(core.RateLimits{
		EmailPerAddress:      core.RateLimit{Requests: 100, Window: time.Hour},
		EmailCodesPerAddress: core.RateLimit{Requests: 3, Window: 24 * time.Hour},
	}))
	e.alignClock(24 * time.Hour)
	e.root(e.prog, "root@acme.test")
	require.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, "root@acme.test"))
	for range 2 {
		require.NoError(t, e.svc.SendEmailVerification(e.ctx, e.prog, core.EmailScope{}, "root@acme.test"))
	}
	err := e.svc.SendEmailVerification(e.ctx, e.prog, core.EmailScope{}, "root@acme.test")
	require.ErrorIs(t, err, core.ErrRateLimited, "the fourth code of the day, whatever its kind")
	e.clock.Advance(24 * time.Hour)
	require.NoError(t, e.svc.SendEmailVerification(e.ctx, e.prog, core.EmailScope{}, "root@acme.test"), "a new day")
}
