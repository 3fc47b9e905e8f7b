package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/password"
)

// testParams keep argon2id cheap under -race.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// coreEnv is a real core.Service over a bbolt file in t.TempDir(), with a
// movable clock and senders that record what they are asked to deliver.
type coreEnv struct {
	t     testing.TB
	ctx   context.Context
	store *boltstore.Store
	svc   *core.Service
	clock *core.OffsetClock
	sms   *recordingSMS
	mail  *recordingEmail
	logs  *lockedBuffer
	prog  *core.Programme // a programme with default settings
}

// newCoreEnv starts a service; opts adjust its Config (sandbox by default).
func newCoreEnv(t testing.TB, opts ...func(*core.Config)) *coreEnv {
	t.Helper()
	return newCoreEnvOn(t, core.NewOffsetClock(nil), opts...)
}

// newCoreEnvOn is newCoreEnv on clock: a clock whose base stands still lets a
// test reach an exact instant (the end of a code's life).
func newCoreEnvOn(t testing.TB, clock *core.OffsetClock, opts ...func(*core.Config)) *coreEnv {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	logs := &lockedBuffer{}
	cfg := core.Config{
		Sandbox:        true,
		PasswordParams: testParams,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &coreEnv{t: t, ctx: context.Background(), store: store, clock: clock,
		sms: &recordingSMS{}, mail: &recordingEmail{}, logs: logs}
	var svcStore core.Store = rehearsingStore{store}
	if _, bench := t.(*testing.B); bench {
		svcStore = store // a benchmark measures the store's own updates
	}
	e.svc, err = core.New(e.ctx, cfg, svcStore, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(t, err)
	e.mail.settle = e.svc.WaitForMail
	e.prog = e.programme("Test Programme", core.ProgrammeSettings{})
	return e
}

// programme creates a programme with settings.
func (e *coreEnv) programme(name string, settings core.ProgrammeSettings) *core.Programme {
	e.t.Helper()
	p, err := e.svc.CreateProgramme(e.ctx, core.NewProgramme{Name: name, Settings: settings})
	require.NoError(e.t, err)
	return p.Programme
}

const testPassword = "Str0ng-Passw0rd"

// testMobile is every test root user's mobile.
var testMobile = core.Mobile{CountryCode: "+44", Number: "7700900123"}

// root creates a corporate in prog whose root user has testPassword and
// testMobile; it returns the user and the session token CreatePassword opened.
func (e *coreEnv) root(prog *core.Programme, email string) (*core.User, string) {
	e.t.Helper()
	m := testMobile
	_, u, err := e.svc.CreateIdentity(e.ctx, prog, core.NewIdentity{Type: core.Corporate, Name: "Acme Ltd",
		Root: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: email, Mobile: &m}})
	require.NoError(e.t, err)
	set, err := e.svc.CreatePassword(e.ctx, prog, u.ID, testPassword)
	require.NoError(e.t, err)
	return set.User, set.Token
}

// login opens a new session and returns its token.
func (e *coreEnv) login(prog *core.Programme, email string) string {
	e.t.Helper()
	in, err := e.svc.Login(e.ctx, prog, email, testPassword)
	require.NoError(e.t, err)
	return in.Token
}

// caller authenticates a token, as the HTTP layer does for every request.
func (e *coreEnv) caller(prog *core.Programme, token string) *core.Caller {
	e.t.Helper()
	c, err := e.svc.Authenticate(e.ctx, prog, token)
	require.NoError(e.t, err)
	return c
}

// enrolled creates a root user with an ACTIVE SMS factor and returns a caller
// of a fresh (not stepped-up) session.
func (e *coreEnv) enrolled(prog *core.Programme, email string) *core.Caller {
	e.t.Helper()
	_, token := e.root(prog, email)
	c := e.caller(prog, token)
	require.NoError(e.t, e.svc.EnrolSMS(e.ctx, c))
	require.NoError(e.t, e.svc.VerifyEnrolSMS(e.ctx, c, e.sms.lastCode(e.t)))
	return e.caller(prog, e.login(prog, email))
}

// updateUser changes a user record directly in the store, for states no API reaches yet.
func (e *coreEnv) updateUser(id string, change func(*core.User)) {
	e.t.Helper()
	err := e.store.Update(e.ctx, func(tx core.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		change(u)
		return tx.UpdateUser(u)
	})
	require.NoError(e.t, err)
}

// user reads a user record from the store.
func (e *coreEnv) user(id string) *core.User {
	e.t.Helper()
	var u *core.User
	require.NoError(e.t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		u, err = tx.User(id)
		return err
	}))
	return u
}

// challenge reads the caller's session's challenge for purpose from the store.
func (e *coreEnv) challenge(c *core.Caller, p core.ChallengePurpose) *core.Challenge {
	e.t.Helper()
	var ch *core.Challenge
	require.NoError(e.t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		ch, err = tx.Challenge(c.Session.TokenHash, p)
		return err
	}))
	return ch
}

// factorStatus reads the user's SMS factor's status from the store, "" when there is none.
func (e *coreEnv) factorStatus(userID string) core.FactorStatus {
	e.t.Helper()
	var f *core.Factor
	err := e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		f, err = tx.Factor(userID, core.ChannelSMS)
		return err
	})
	if errors.Is(err, core.ErrRecordNotFound) {
		return ""
	}
	require.NoError(e.t, err)
	return f.Status
}

// session reads a session record from the store.
func (e *coreEnv) session(tokenHash []byte) (*core.Session, error) {
	var s *core.Session
	err := e.store.View(e.ctx, func(tx core.ReadTx) error {
		var err error
		s, err = tx.Session(tokenHash)
		return err
	})
	return s, err
}

// recordingSMS is a fake carrier behind the real SMSSender interface.
type recordingSMS struct {
	mu   sync.Mutex
	msgs []core.SMS
	fail error // when set, every send fails with it and records nothing
}

var _ core.SMSSender = (*recordingSMS)(nil)

func (r *recordingSMS) SendSMS(_ context.Context, m core.SMS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// failWith makes every later send fail with err (nil: succeed again).
func (r *recordingSMS) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *recordingSMS) all() []core.SMS {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.SMS(nil), r.msgs...)
}

// reOriginBound is the last line of a code text message: "@host #code".
var reOriginBound = regexp.MustCompile(`\n@([a-z0-9.-]+) #([0-9]+)$`)

// lastCode returns the code of the last text message, failing if there is none.
func (r *recordingSMS) lastCode(t testing.TB) string {
	t.Helper()
	all := r.all()
	require.NotEmpty(t, all, "no text message was sent")
	m := reOriginBound.FindStringSubmatch(all[len(all)-1].Text)
	require.NotNil(t, m, "the text %q does not end with the origin-bound line", all[len(all)-1].Text)
	return m[2]
}

// recordingEmail records emails. settle, when set, waits for the emails the
// service sends in the background, so that all sees every email of the calls
// that returned.
type recordingEmail struct {
	mu     sync.Mutex
	msgs   []core.Email
	settle func()
}

var _ core.EmailSender = (*recordingEmail)(nil)

func (r *recordingEmail) SendEmail(_ context.Context, m core.Email) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recordingEmail) all() []core.Email {
	if r.settle != nil {
		r.settle()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Email(nil), r.msgs...)
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wrongCode returns the i-th of many well-formed codes that differ from code.
func wrongCode(code string, i int) string {
	n, err := strconv.Atoi(code)
	if err != nil {
		n = 0
	}
	return fmt.Sprintf("%06d", (n+1+i)%1000000)
}

// phoneUser turns biometrics on for e's programme and returns it with a new
// enrolled user of email whose biometric factor is ACTIVE, as if they had
// linked a phone.
func (e *coreEnv) phoneUser(email string) (*core.Programme, *core.Caller) {
	e.t.Helper()
	set := e.prog.Settings
	set.Biometrics = true
	prog, err := e.svc.UpdateProgrammeSettings(e.ctx, e.prog.ID, nil, set)
	require.NoError(e.t, err)
	c := e.enrolled(prog, email)
	require.NoError(e.t, e.store.Update(e.ctx, func(tx core.Tx) error {
		return tx.PutFactor(&core.Factor{UserID: c.User.ID, Channel: core.ChannelBiometric, Status: core.FactorActive,
			CredentialID: []byte("credential-" + email), CreatedAt: time.Now(), UpdatedAt: time.Now()})
	}))
	return prog, c
}
