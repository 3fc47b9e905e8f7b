package authenticator_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/password"
)

// prompt is a PasscodePrompt that types the next queued answer and records
// the reasons it was shown.
type prompt struct {
	mu      sync.Mutex
	answers []string
	reasons []string
}

func (p *prompt) ask(_ context.Context, reason string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reasons = append(p.reasons, reason)
	if len(p.answers) == 0 {
		return "", errors.New("cancelled by the user")
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a, nil
}

func (p *prompt) will(answers ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers = append(p.answers, answers...)
}

func TestPasscodeVerifier(t *testing.T) {
	ctx := context.Background()
	p := &prompt{}
	v, err := authenticator.NewPasscodeVerifier("", p.ask)
	require.NoError(t, err)
	assert.False(t, v.IsSet())
	_, err = v.Verify(ctx, "Approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeNotSet)

	assert.ErrorIs(t, v.Set(ctx, "12345"), authenticator.ErrPasscodeLength)
	assert.ErrorIs(t, v.Set(ctx, strings.Repeat("1", authenticator.MaxPasscodeLen+1)), authenticator.ErrPasscodeLength)
	require.NoError(t, v.Set(ctx, "246810"))
	assert.True(t, v.IsSet())
	assert.ErrorIs(t, v.Set(ctx, "135790"), authenticator.ErrPasscodeAlreadySet, "set once")

	p.will("246810", "000000")
	ok, err := v.Verify(ctx, "Approve: Create user bob@example.com")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = v.Verify(ctx, "Approve")
	var wrong *authenticator.WrongPasscodeError
	require.ErrorAs(t, err, &wrong)
	assert.ErrorIs(t, err, authenticator.ErrWrongPasscode)
	assert.Equal(t, 1, wrong.InARow)
	assert.False(t, ok, "wrong passcode")
	ok, err = v.Verify(ctx, "Approve") // no answer queued: the user cancels
	assert.Error(t, err)
	assert.False(t, ok)
	assert.Equal(t, "Approve: Create user bob@example.com", p.reasons[0], "the prompt shows the reason")

	assert.ErrorIs(t, v.Change(ctx, "000000", "135790"), authenticator.ErrWrongPasscode)
	require.NoError(t, v.Change(ctx, "246810", "135790"))
	p.will("246810", "135790")
	ok, err = v.Verify(ctx, "Approve")
	require.ErrorIs(t, err, authenticator.ErrWrongPasscode)
	assert.False(t, ok, "the old passcode no longer works")
	ok, err = v.Verify(ctx, "Approve")
	require.NoError(t, err)
	assert.True(t, ok)
}

// TestPasscodeJustSet: the flow that has just set the passcode is not asked
// for it again; any other is, and a marked context does not stand in for a
// passcode that was never set.
func TestPasscodeJustSet(t *testing.T) {
	p := &prompt{}
	v, err := authenticator.NewPasscodeVerifier("", p.ask)
	require.NoError(t, err)
	marked := authenticator.WithPasscodeJustSet(context.Background())
	_, err = v.Verify(marked, "Confirm")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeNotSet)

	require.NoError(t, v.Set(marked, "246810"))
	ok, err := v.Verify(marked, "Confirm")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Empty(t, p.reasons, "not asked")

	ok, err = v.Verify(context.Background(), "Approve") // nothing queued: the user cancels
	assert.Error(t, err)
	assert.False(t, ok)
	assert.Equal(t, []string{"Approve"}, p.reasons, "another flow is asked")
}

// fileVerifier is a PasscodeVerifier keeping its hash in the file name of a
// temporary directory, with passcode set, and its prompt.
func fileVerifier(t *testing.T, name, passcode string) (string, *prompt, *authenticator.PasscodeVerifier) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	p := &prompt{}
	v, err := authenticator.NewPasscodeVerifier(path, p.ask)
	require.NoError(t, err)
	require.NoError(t, v.Set(context.Background(), passcode))
	return path, p, v
}

func TestPasscodeVerifierFile(t *testing.T) {
	ctx := context.Background()
	path, p, _ := fileVerifier(t, "passcode", "246810")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "$argon2id$v=19$m=19456,t=2,p=1$"), "stored as an argon2id PHC hash: %s", data)
	assert.NotContains(t, string(data), "246810")
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	}

	reopened, err := authenticator.NewPasscodeVerifier(path, p.ask)
	require.NoError(t, err)
	assert.True(t, reopened.IsSet())
	assert.ErrorIs(t, reopened.Set(ctx, "135790"), authenticator.ErrPasscodeAlreadySet)
	p.will("246810")
	ok, err := reopened.Verify(ctx, "Approve")
	require.NoError(t, err)
	assert.True(t, ok)

	require.NoError(t, os.WriteFile(path, []byte("plaintext"), 0o600))
	_, err = authenticator.NewPasscodeVerifier(path, p.ask)
	assert.ErrorIs(t, err, password.ErrInvalidHash)
}

// TestPasscodeRehash: a passcode hashed with older parameters is rehashed
// with the current ones on the next successful verification.
func TestPasscodeRehash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "passcode")
	old := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := password.NewHasher(old, 1).Hash(ctx, "246810")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(hash+"\n"), 0o600))

	p := &prompt{}
	v, err := authenticator.NewPasscodeVerifier(path, p.ask)
	require.NoError(t, err)
	p.will("246810")
	ok, err := v.Verify(ctx, "Approve")
	require.NoError(t, err)
	assert.True(t, ok)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "$argon2id$v=19$m=19456,t=2,p=1$"), "rehashed: %s", data)
}

// TestPasscodeGatesCeremonies: with a PasscodeVerifier, a wrong passcode
// fails the ceremony with ErrUserVerificationFailed and the right one
// completes it against the relying party.
func TestPasscodeGatesCeremonies(t *testing.T) {
	ctx := context.Background()
	rp := newRP(t)
	user := newUser()
	p := &prompt{}
	v, err := authenticator.NewPasscodeVerifier("", p.ask)
	require.NoError(t, err)
	require.NoError(t, v.Set(ctx, "246810"))
	a := newAuthenticator(t, authenticator.NewMemoryStore(), v)

	p.will("246810")
	register(t, rp, user, a)

	options, session := beginLogin(t, rp, user)
	req, err := authenticator.ParseRequestOptions(options, testOrigin)
	require.NoError(t, err)
	p.will("111111")
	_, err = a.Assert(ctx, req)
	assert.ErrorIs(t, err, authenticator.ErrUserVerificationFailed)
	p.will("246810")
	as, err := a.Assert(ctx, req)
	require.NoError(t, err)
	got, err := finishLogin(t, rp, user, session, as)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), got.Authenticator.SignCount, "the refused attempt used no counter value")
}

// TestPasscodeLockout: whoever holds an unlocked phone must not be able to
// try every passcode at the prompt, nor reset the count by restarting the app.
func TestPasscodeLockout(t *testing.T) {
	ctx := context.Background()
	path, p, v := fileVerifier(t, "passcode.hash", "135790")
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	clock.drive(v)
	wrongPasscodes(t, v, p, authenticator.MaxPasscodeAttempts, func() {})
	p.answers = []string{"135790"}
	ok, err := v.Verify(ctx, "approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeLocked, "the right passcode after %d wrong ones", authenticator.MaxPasscodeAttempts)
	assert.False(t, ok)
	assert.Equal(t, []string{"135790"}, p.answers, "the locked verifier must not even ask")
	assert.ErrorIs(t, v.Change(ctx, "135790", "246801"), authenticator.ErrPasscodeLocked)

	reopened := clock.reopen(t, path, p)
	_, err = reopened.Verify(ctx, "approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeLocked, "restarting the app must not reset the count")

	clock.now = clock.now.Add(authenticator.PasscodeLockout)
	ok, err = reopened.Verify(ctx, "approve")
	require.NoError(t, err)
	assert.True(t, ok, "after the lockout the right passcode works")
	p.answers = []string{"000000"}
	ok, err = reopened.Verify(ctx, "approve")
	require.ErrorIs(t, err, authenticator.ErrWrongPasscode)
	assert.False(t, ok)
	p.answers = []string{"135790"}
	ok, err = reopened.Verify(ctx, "approve")
	require.NoError(t, err)
	assert.True(t, ok, "a match clears the count")
}

// TestPasscodeBlockedWhateverTheClock: whoever holds the phone can move its
// clock past each lockout, so MaxPasscodeFailures wrong passcodes in a row
// block it for good, across restarts, the right one included.
func TestPasscodeBlockedWhateverTheClock(t *testing.T) {
	ctx := context.Background()
	path, p, v := fileVerifier(t, "passcode.hash", "135790")
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	clock.drive(v)
	wrongPasscodes(t, v, p, authenticator.MaxPasscodeFailures, func() {
		clock.now = clock.now.Add(authenticator.PasscodeLockout) // past each lockout
	})
	clock.now = clock.now.Add(365 * 24 * time.Hour)
	p.answers = []string{"135790"}
	_, err := v.Verify(ctx, "approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeBlocked)
	assert.Equal(t, []string{"135790"}, p.answers, "a blocked verifier does not even ask")
	assert.ErrorIs(t, v.Change(ctx, "135790", "246801"), authenticator.ErrPasscodeBlocked)
	_, err = clock.reopen(t, path, p).Verify(ctx, "approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeBlocked, "restarting the app does not lift it")
}

// testClock is a clock the test moves, driving the verifiers' lockouts.
type testClock struct{ now time.Time }

func (c *testClock) drive(v *authenticator.PasscodeVerifier) {
	authenticator.SetPasscodeClock(v, func() time.Time { return c.now })
}

// reopen opens the verifier at path again, as a restarted app does, on c.
func (c *testClock) reopen(t *testing.T, path string, p *prompt) *authenticator.PasscodeVerifier {
	t.Helper()
	v, err := authenticator.NewPasscodeVerifier(path, p.ask)
	require.NoError(t, err)
	c.drive(v)
	return v
}

// wrongPasscodes types n wrong passcodes at v's prompt, each refused
// without an error, and runs then after each.
func wrongPasscodes(t *testing.T, v *authenticator.PasscodeVerifier, p *prompt, n int, then func()) {
	t.Helper()
	for i := range n {
		p.answers = []string{"000000"}
		ok, err := v.Verify(context.Background(), "approve")
		var wrong *authenticator.WrongPasscodeError
		require.ErrorAs(t, err, &wrong, "wrong passcode %d", i+1)
		require.False(t, ok)
		then()
	}
}

// TestPasscodeAttemptsFileDamaged: a damaged count is a lockout, not a reset.
func TestPasscodeAttemptsFileDamaged(t *testing.T) {
	ctx := context.Background()
	path, p, _ := fileVerifier(t, "passcode.hash", "135790")
	require.NoError(t, os.WriteFile(path+".attempts", []byte("garbage"), 0o600))
	reopened, err := authenticator.NewPasscodeVerifier(path, p.ask)
	require.NoError(t, err)
	p.answers = []string{"135790"}
	_, err = reopened.Verify(ctx, "approve")
	assert.ErrorIs(t, err, authenticator.ErrPasscodeLocked)
}

// holdKey marks the context of a check whose hash gate holds.
type holdKey struct{}

// gate is a password.Observer that holds the hashes of checks marked with
// holdKey until released, once it has told arrived they got there.
type gate struct{ arrived, release chan struct{} }

func (g gate) Hashing(ctx context.Context) func(time.Duration) {
	if ctx.Value(holdKey{}) != nil {
		g.arrived <- struct{}{}
		<-g.release
	}
	return func(time.Duration) {}
}

// TestPasscodeCancelledCheckGivesBackOnlyItsOwnGuess: a check cancelled
// before its hash gives back its own counted guess, never one that an
// overlapping check counted meanwhile; else cancelling checks would erase
// wrong guesses. Whether the cancelled one hashed all the same is up to the
// scheduler (a free slot and a done context are both ready), so the rounds
// repeat it.
func TestPasscodeCancelledCheckGivesBackOnlyItsOwnGuess(t *testing.T) {
	tiny := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := password.NewHasher(tiny, 1).Hash(context.Background(), "246810")
	require.NoError(t, err)
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "passcode")
		require.NoError(t, os.WriteFile(path, []byte(hash+"\n"), 0o600))
		p := &prompt{}
		v, err := authenticator.NewPasscodeVerifier(path, p.ask)
		require.NoError(t, err)
		g := gate{arrived: make(chan struct{}), release: make(chan struct{})}
		authenticator.SetPasscodeHasher(v, password.NewHasher(tiny, 1, password.WithObserver(g)))

		p.will("000000")
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), holdKey{}, true))
		held := make(chan error, 1)
		go func() {
			_, err := v.Verify(ctx, "Approve")
			held <- err
		}()
		<-g.arrived // its guess is counted, its hash not begun
		p.will("000001")
		ok, err := v.Verify(context.Background(), "Approve")
		require.ErrorIs(t, err, authenticator.ErrWrongPasscode)
		require.False(t, ok)
		cancel()
		close(g.release)
		want := "2 "
		if err := <-held; errors.Is(err, context.Canceled) {
			want = "1 " // its own guess given back, the other's kept
		} else {
			require.ErrorIs(t, err, authenticator.ErrWrongPasscode)
		}
		data, err := os.ReadFile(path + ".attempts")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(data), want), "round %d: %q counted, want %q", round, data, want)
	}
}
