package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// onceHashing runs then once, when the new password plain is hashed and
// before the change that hashed it commits.
type onceHashing struct {
	core.PasswordHasher
	plain string
	armed *atomic.Bool
	then  func()
}

func (h onceHashing) HashWithSalt(ctx context.Context, plain string, salt []byte) (string, error) {
	hash, err := h.PasswordHasher.HashWithSalt(ctx, plain, salt)
	if plain == h.plain && h.armed.CompareAndSwap(true, false) {
		h.then()
	}
	return hash, err
}

// TestPasswordChangeWhileASignInRehashes: a password change or reset reads
// the stored hash, checks its rules against it and hashes the new
// password; a sign-in that rehashes the password meanwhile (new argon2id
// parameters) replaces that hash, not the password. The change does not
// commit on its stale reading: it reads the hash again, checks again and
// goes through. (It used to answer 409 PASSWORD_CHANGED_CONCURRENTLY, a
// code Weavr's clients do not know, for a change nobody made.)
func TestPasswordChangeWhileASignInRehashes(t *testing.T) {
	const plain, mine = testPassword, "M1ne-Passw0rd!"
	for _, c := range []struct {
		name   string
		change func(ctx context.Context, svc *core.Service, prog *core.Programme, token string) error
	}{
		{"a change", func(ctx context.Context, svc *core.Service, prog *core.Programme, token string) error {
			caller, err := svc.Authenticate(ctx, prog, token)
			require.NoError(t, err)
			_, err = svc.UpdatePassword(ctx, caller, plain, mine)
			return err
		}},
		{"a reset", func(ctx context.Context, svc *core.Service, prog *core.Programme, _ string) error {
			require.NoError(t, svc.LostPasswordStart(ctx, prog, "ada@acme.test"))
			_, err := svc.LostPasswordResume(ctx, prog, "ada@acme.test", core.SandboxCode, mine)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			_, svcs := servicesOverOneStore(t, oldParams, newParams)
			cur := svcs[1] // restarted with new parameters
			prog, _, token := adaWithAPassword(t, svcs[0])

			var armed atomic.Bool
			core.WrapHasher(cur, func(h core.PasswordHasher) core.PasswordHasher {
				return onceHashing{h, mine, &armed, func() {
					_, err := cur.Login(ctx, prog, "ada@acme.test", plain) // rehashes: new parameters
					require.NoError(t, err)
				}}
			})
			armed.Store(true)
			require.NoError(t, c.change(ctx, cur, prog, token))
			assert.False(t, armed.Load(), "the sign-in rehashed while the change hashed")
			_, err := cur.Login(ctx, prog, "ada@acme.test", mine)
			assert.NoError(t, err, "the new password is the password")
			_, err = cur.Login(ctx, prog, "ada@acme.test", plain)
			assert.ErrorIs(t, err, core.ErrInvalidCredentials, "the old one is not")
		})
	}
}

// A deactivated user gets no first password, and with it no session, even
// when the deactivation lands while the password is being hashed; once
// active again, they do.
func TestCreatePasswordRefusedForDeactivatedUser(t *testing.T) {
	e := newCoreEnv(t)
	_, u, err := e.svc.CreateIdentity(e.ctx, e.prog, core.NewIdentity{Type: core.Corporate, Name: "Nopass Ltd",
		Root: core.UserDetails{Name: "No", Surname: "Pass", Email: "nopass@acme.test", Mobile: &testMobile}})
	require.NoError(t, err)
	passwordSet := func() bool {
		var set bool
		require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
			cur, err := tx.User(u.ID)
			set = err == nil && cur.PasswordSet
			return err
		}))
		return set
	}
	active := func(on bool) func() {
		return func() { e.updateUser(u.ID, func(u *core.User) { u.Active = on }) }
	}

	active(false)()
	_, err = e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	assert.Equal(t, core.CodeUserInactive, core.CodeOf(err), "deactivated before: %v", err)
	assert.False(t, passwordSet())

	active(true)()
	var armed atomic.Bool
	core.WrapHasher(e.svc, func(h core.PasswordHasher) core.PasswordHasher {
		return onceHashing{h, testPassword, &armed, active(false)}
	})
	armed.Store(true)
	_, err = e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	assert.False(t, armed.Load(), "deactivated while hashing")
	assert.Equal(t, core.CodeUserInactive, core.CodeOf(err), "deactivated while hashing: %v", err)
	assert.False(t, passwordSet())

	active(true)()
	set, err := e.svc.CreatePassword(e.ctx, e.prog, u.ID, testPassword)
	require.NoError(t, err)
	assert.NotEmpty(t, set.Token)
	assert.True(t, passwordSet())
}

// hookedTxStore runs its hook, when there is one, before each transaction:
// a test holds or breaks the store's transactions with it.
type hookedTxStore struct {
	core.Store
	hook *atomic.Pointer[func()]
}

func (s hookedTxStore) before() {
	if h := s.hook.Load(); h != nil {
		(*h)()
	}
}

func (s hookedTxStore) View(ctx context.Context, fn func(core.ReadTx) error) error {
	s.before()
	return s.Store.View(ctx, fn)
}

func (s hookedTxStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	s.before()
	return s.Store.Update(ctx, fn)
}

// hookedService is a service outside sandbox over e's store behind a
// hookedTxStore, whose hook is set once the service is built, with email
// sent to mail.
func hookedService(t *testing.T, e *coreEnv, cfg core.Config, mail core.EmailSender, hook func()) *core.Service {
	t.Helper()
	store := hookedTxStore{Store: e.store, hook: &atomic.Pointer[func()]{}}
	cfg.PasswordParams = testParams
	svc, err := core.New(e.ctx, cfg, store, core.Integrations{SMS: e.sms, Email: mail}, e.clock)
	require.NoError(t, err)
	store.hook.Store(&hook)
	return svc
}

// startAnswered starts a reset for email in prog with svc and returns its answer,
// failing t when none comes: a watchdog, not a measure, for an answer that
// waits neither for the store nor for a slot (a free one answers at once).
func startAnswered(t *testing.T, svc *core.Service, e *coreEnv, prog *core.Programme, email string) error {
	t.Helper()
	answered := make(chan error, 1)
	go func() { answered <- svc.LostPasswordStart(e.ctx, prog, email) }()
	select {
	case err := <-answered:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer", email)
		return nil
	}
}

// TestLostPasswordStartAnswersBeforeItsWork: outside sandbox, starting a
// reset answers before it looks the address up, for a user and an unknown
// address alike, while the store holds every transaction; the code and its
// email follow, the code living from the request.
func TestLostPasswordStartAnswersBeforeItsWork(t *testing.T) {
	const ttl = time.Hour
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox, c.ResetCodeTTL = false, ttl })
	e.root(e.prog, "known@acme.test")
	release := make(chan struct{})
	svc := hookedService(t, e, core.Config{ResetCodeTTL: ttl}, e.mail, func() { <-release })

	for _, email := range []string{"unknown@acme.test", "known@acme.test"} {
		require.NoError(t, startAnswered(t, svc, e, e.prog, email), "%s: answered with the store held", email)
	}
	e.clock.Advance(ttl - time.Minute)
	close(release)
	svc.WaitForMail()
	mails := e.mail.all()
	require.Len(t, mails, 1, "the user's code, and nothing to the unknown address")
	assert.Equal(t, "known@acme.test", mails[0].To)
	e.clock.Advance(time.Minute) // the end of the code's life, counted from the request
	_, err := svc.LostPasswordResume(e.ctx, e.prog, "known@acme.test", resetCode(t, mails[0]), "N3w-Passw0rd!")
	requireCode(t, err, core.ErrConflict, core.CodeInvalidNonceOrEmail)
}

// TestLostPasswordResumeRightAfterStart: in sandbox, where the code is known
// before its email, a resume right after its start finds the code (the start
// stores it before it answers), for many addresses at once.
func TestLostPasswordResumeRightAfterStart(t *testing.T) {
	e := newCoreEnv(t)
	const users = 16
	for i := range users {
		e.root(e.prog, fmt.Sprintf("u%d@acme.test", i))
	}
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			email := fmt.Sprintf("u%d@acme.test", i)
			assert.NoError(t, e.svc.LostPasswordStart(e.ctx, e.prog, email))
			_, err := e.svc.LostPasswordResume(e.ctx, e.prog, email, core.SandboxCode, "N3w-Passw0rd!")
			assert.NoError(t, err, email)
		})
	}
	wg.Wait()
}

// notifyingEmail tells sent of each email it hands to its sender.
type notifyingEmail struct {
	core.EmailSender
	sent chan struct{}
}

func (n notifyingEmail) SendEmail(ctx context.Context, m core.Email) error {
	defer func() { n.sent <- struct{}{} }()
	return n.EmailSender.SendEmail(ctx, m)
}

// TestLostPasswordCodesFollowTheRequests: a reset's work follows its answer,
// so two resets may store their codes in the other order; the code of the
// later request stays, and the earlier one, stored after it, neither
// replaces it nor goes out, so that the last email's code works.
func TestLostPasswordCodesFollowTheRequests(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	e.root(e.prog, "ada@acme.test")
	held, release := make(chan struct{}), make(chan struct{})
	mail := notifyingEmail{EmailSender: e.mail, sent: make(chan struct{}, 2)}
	var first atomic.Bool
	svc := hookedService(t, e, core.Config{}, mail, func() {
		if first.CompareAndSwap(false, true) { // holds the first transaction only
			close(held)
			<-release
		}
	})
	watchdog := time.After(10 * time.Second) // not a measure: each wait below ends at once when the code is right
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-watchdog:
			t.Fatal(what)
		}
	}

	require.NoError(t, svc.LostPasswordStart(e.ctx, e.prog, "ada@acme.test"))
	wait(held, "the first reset never looked the address up")
	e.clock.Advance(time.Minute)
	require.NoError(t, svc.LostPasswordStart(e.ctx, e.prog, "ada@acme.test"))
	wait(mail.sent, "the second reset sent nothing")
	close(release)
	svc.WaitForMail()
	sent := slices.DeleteFunc(e.mail.all(), func(m core.Email) bool { return !strings.Contains(m.Subject, "reset your password") })
	require.Len(t, sent, 1, "the first request's code, stored last, did not go out")
	_, err := svc.LostPasswordResume(e.ctx, e.prog, "ada@acme.test", resetCode(t, sent[0]), "N3w-Passw0rd!")
	require.NoError(t, err, "the second request's code stayed")
}

// TestLostPasswordStartsWaitForASlot: outside sandbox, once a programme's
// MaxProgrammeResetsStoring resets wait for the store, its next waits for a
// slot before it answers, and a request that ends meanwhile is told to
// retry (503), whatever its address, while another programme's resets
// still answer at once; once MaxResetsStoring wait, of programmes that
// each hold their share, every programme's next waits, and is told to
// retry after a while. None is lost when the store comes back.
func TestLostPasswordStartsWaitForASlot(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	e.root(e.prog, "known@acme.test")
	progs := []*core.Programme{e.prog}
	for i := 1; i <= core.MaxResetsStoring/core.MaxProgrammeResetsStoring; i++ {
		progs = append(progs, e.programme(fmt.Sprintf("other%d", i), core.ProgrammeSettings{}))
	}
	release := make(chan struct{})
	svc := hookedService(t, e, core.Config{RateLimits: &core.RateLimits{}}, e.mail, func() { <-release })
	fill := func(prog *core.Programme, from int) { // its share, from its from-th reset
		for i := from; i < core.MaxProgrammeResetsStoring; i++ {
			require.NoError(t, startAnswered(t, svc, e, prog, fmt.Sprintf("u%d@acme.test", i)))
		}
	}
	busy := func(prog *core.Programme, email string) {
		t.Helper()
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		requireCode(t, svc.LostPasswordStart(ctx, prog, email), core.ErrUnavailable, "")
	}

	fill(e.prog, 0)
	for _, email := range []string{"known@acme.test", "unknown@acme.test"} {
		busy(e.prog, email)
	}
	require.NoError(t, startAnswered(t, svc, e, progs[1], "u@acme.test"), "another programme's reset has a slot")
	fill(progs[1], 1)
	for _, prog := range progs[2 : len(progs)-1] {
		fill(prog, 0)
	}
	requireCode(t, svc.LostPasswordStart(e.ctx, progs[len(progs)-1], "v@acme.test"), core.ErrUnavailable, "",
		"every slot held: the request waits its while and is told to retry")
	close(release)
	svc.WaitForMail() // every reset held stored
	require.NoError(t, svc.LostPasswordStart(e.ctx, e.prog, "known@acme.test"), "a slot again")
	svc.WaitForMail()
	require.Len(t, e.mail.all(), 1)
}

// TestLostPasswordSlotsSurviveAPanic: a reset whose work panics (a store
// that breaks so) frees its slot: more resets than there are slots, one
// after the other, each answer and each counted as failed.
func TestLostPasswordSlotsSurviveAPanic(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	failures := &atomic.Int64{}
	svc := hookedService(t, e, core.Config{Observer: backgroundFailures{n: failures}, Logger: slog.New(slog.DiscardHandler)},
		e.mail, func() { panic("the store broke") })
	for i := range core.MaxResetsStoring + 1 {
		require.NoError(t, startAnswered(t, svc, e, e.prog, "known@acme.test"), "reset %d", i+1)
		svc.WaitForMail()
	}
	assert.EqualValues(t, core.MaxResetsStoring+1, failures.Load())
}

// refusingEmail is a mail server that refuses every email, after reading it.
type refusingEmail struct {
	mu   sync.Mutex
	read []core.Email
}

func (r *refusingEmail) SendEmail(_ context.Context, m core.Email) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read = append(r.read, m)
	return errors.New("554 transaction failed")
}

// backgroundFailures counts Observer.BackgroundFailed.
type backgroundFailures struct {
	core.NopObserver
	n *atomic.Int64
}

func (b backgroundFailures) BackgroundFailed(context.Context) { b.n.Add(1) }

// TestLostPasswordFailureAfterTheAnswerIsCounted: a reset whose email the
// mail server refuses was answered already; the failure is counted for the
// operator (deputy_background_failures_total) and logged without the code.
// An unknown address, which has nothing to send, counts nothing.
func TestLostPasswordFailureAfterTheAnswerIsCounted(t *testing.T) {
	e := newCoreEnv(t, func(c *core.Config) { c.Sandbox = false })
	e.root(e.prog, "known@acme.test")
	failures := &atomic.Int64{}
	logs := &lockedBuffer{}
	mail := &refusingEmail{}
	svc, err := core.New(e.ctx, core.Config{PasswordParams: testParams, Observer: backgroundFailures{n: failures},
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}, e.store, core.Integrations{SMS: e.sms, Email: mail}, e.clock)
	require.NoError(t, err)

	require.NoError(t, svc.LostPasswordStart(e.ctx, e.prog, "unknown@acme.test"))
	svc.WaitForMail()
	assert.Zero(t, failures.Load(), "nothing to send")
	require.NoError(t, svc.LostPasswordStart(e.ctx, e.prog, "known@acme.test"))
	svc.WaitForMail()
	assert.EqualValues(t, 1, failures.Load())
	assert.Contains(t, logs.String(), "554 transaction failed")
	require.Len(t, mail.read, 1)
	assert.NotContains(t, logs.String(), resetCode(t, mail.read[0]), "the code is not in the log")
}
