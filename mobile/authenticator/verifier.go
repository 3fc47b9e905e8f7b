package authenticator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/deputyhq/deputy/password"
)

// UserVerification is a relying party's user verification requirement
// (WebAuthn §5.8.6). Its zero value is UVRequired, the least permissive.
type UserVerification uint8

const (
	// UVRequired: the user must be verified; the UserVerifier is asked and
	// the UV flag is set.
	UVRequired UserVerification = iota
	// UVPreferred: treated as UVRequired, as a platform authenticator that
	// can verify the user does. A refusal fails the ceremony.
	UVPreferred
	// UVDiscouraged: the UserVerifier is not asked and the UV flag is clear.
	UVDiscouraged
)

var userVerificationNames = [...]string{
	UVRequired:    "required",
	UVPreferred:   "preferred",
	UVDiscouraged: "discouraged",
}

// String returns the WebAuthn name of v ("required", "preferred",
// "discouraged"), or UserVerification(n) for an undefined value.
func (v UserVerification) String() string {
	if int(v) < len(userVerificationNames) {
		return userVerificationNames[v]
	}
	return fmt.Sprintf("UserVerification(%d)", uint8(v))
}

// MarshalText implements encoding.TextMarshaler with the WebAuthn name.
func (v UserVerification) MarshalText() ([]byte, error) {
	if int(v) >= len(userVerificationNames) {
		return nil, fmt.Errorf("undefined UserVerification %d", uint8(v))
	}
	return []byte(userVerificationNames[v]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting only the three
// WebAuthn names.
func (v *UserVerification) UnmarshalText(text []byte) error {
	for i, name := range userVerificationNames {
		if string(text) == name {
			*v = UserVerification(i)
			return nil
		}
	}
	return fmt.Errorf("unknown user verification requirement %q", text)
}

// UserVerifier verifies that the person holding the device is its owner
// (WebAuthn §6.2.3 "user verification"), showing reason to them. The
// Authenticator calls it before every registration and assertion whose user
// verification is required or preferred; a false result or an error fails
// the ceremony with ErrUserVerificationFailed before anything is signed.
//
// On Android and iOS builds the platform biometric prompt plugs in here:
// BiometricPrompt (androidx.biometric) or LAContext.evaluatePolicy
// (LocalAuthentication) behind a gomobile-bound implementation. Devices
// without biometrics, and desktops, use PasscodeVerifier.
type UserVerifier interface {
	Verify(ctx context.Context, reason string) (bool, error)
}

// UserVerifierFunc adapts a function to a UserVerifier.
type UserVerifierFunc func(ctx context.Context, reason string) (bool, error)

// Verify calls f.
func (f UserVerifierFunc) Verify(ctx context.Context, reason string) (bool, error) {
	return f(ctx, reason)
}

// Passcode errors.
var (
	// ErrPasscodeNotSet means Verify was called before Set.
	ErrPasscodeNotSet = errors.New("app passcode is not set")
	// ErrPasscodeAlreadySet means Set was called when a passcode exists;
	// use Change.
	ErrPasscodeAlreadySet = errors.New("app passcode is already set")
	// ErrPasscodeLength means a new passcode is shorter than
	// MinPasscodeLen or longer than MaxPasscodeLen characters.
	ErrPasscodeLength = fmt.Errorf("app passcode must be %d to %d characters", MinPasscodeLen, MaxPasscodeLen)
	// ErrWrongPasscode means Change was given the wrong current passcode.
	ErrWrongPasscode = errors.New("wrong app passcode")
	// ErrPasscodeLocked means MaxPasscodeAttempts wrong passcodes in a row
	// were typed: no passcode is checked until PasscodeLockout has passed
	// since the last of them.
	ErrPasscodeLocked = errors.New("too many wrong app passcodes; try again later")
	// ErrPasscodeBlocked means MaxPasscodeFailures wrong passcodes in a row
	// were typed: no passcode is checked again, whatever the clock says.
	// Only removing the app's data (the keys go with it) and enrolling the
	// device again gets past it.
	ErrPasscodeBlocked = errors.New("too many wrong app passcodes; this device's approvals are blocked")
)

// WrongPasscodeError is Verify's answer to a wrong passcode (it matches
// ErrWrongPasscode), with how many there have been in a row, so that the UI
// can say what more would do: MaxPasscodeAttempts lock approvals,
// MaxPasscodeFailures block them.
type WrongPasscodeError struct{ InARow int }

func (e *WrongPasscodeError) Error() string { return ErrWrongPasscode.Error() }

// Is makes a WrongPasscodeError match ErrWrongPasscode.
func (e *WrongPasscodeError) Is(target error) bool { return target == ErrWrongPasscode }

// Wrong-passcode lockout, as for logins (GUIDE, "Where the numbers come
// from"; PSD2 RTS Art. 4(3)(b)): without it, whoever holds an unlocked phone
// could try every 6-digit passcode at the prompt.
// After MaxPasscodeAttempts, each further wrong passcode locks again. The
// lockout is measured on the device's clock, which whoever holds the phone
// can move; MaxPasscodeFailures in a row block the passcode for good, so
// that moving the clock buys a few guesses, not all of them.
const (
	MaxPasscodeAttempts = 5
	PasscodeLockout     = 30 * time.Minute
	MaxPasscodeFailures = 10
)

// Bounds on an app passcode's length, in characters.
const (
	MinPasscodeLen = 6
	MaxPasscodeLen = 128
)

// PasscodePrompt asks the user for the app passcode, showing reason. The UI
// supplies it; it returns an error if the user cancels.
type PasscodePrompt func(ctx context.Context, reason string) (string, error)

var _ UserVerifier = (*PasscodeVerifier)(nil)

// PasscodeVerifier is a UserVerifier that checks an app passcode, for devices
// without a biometric prompt and for desktop builds. The passcode is set once
// (Set) and kept only as an argon2id PHC hash (OWASP parameters, package
// core/password), in a file or in memory; Verify asks the UI for it through a
// PasscodePrompt. It is safe for concurrent use.
type PasscodeVerifier struct {
	path   string // "" keeps the hash in memory only
	prompt PasscodePrompt
	hasher *password.Hasher
	now    func() time.Time

	mu   sync.Mutex
	hash string
	// failures counts the wrong passcodes in a row, the last at lastFailure;
	// they are kept in the file at path+".attempts" so that restarting the
	// app does not reset them.
	failures    int
	lastFailure time.Time
	// clears counts the matches that cleared failures, so that a check
	// giving back its guess (check) takes back only its own count.
	clears uint64
}

// NewPasscodeVerifier returns a PasscodeVerifier that keeps its hash in the
// file at path (written atomically with mode 0600), or in memory when path is
// empty, and asks prompt for the passcode. An existing file is loaded.
func NewPasscodeVerifier(path string, prompt PasscodePrompt) (*PasscodeVerifier, error) {
	if prompt == nil {
		return nil, errors.New("authenticator: nil PasscodePrompt")
	}
	v := &PasscodeVerifier{path: path, prompt: prompt, hasher: password.NewHasher(password.DefaultParams, 1), now: time.Now}
	if path == "" {
		return v, nil
	}
	if err := v.loadAttempts(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return v, nil
	case err != nil:
		return nil, fmt.Errorf("reading passcode hash: %w", err)
	}
	hash := strings.TrimSpace(string(data))
	if !strings.HasPrefix(hash, "$argon2id$") {
		return nil, fmt.Errorf("reading passcode hash: %w", password.ErrInvalidHash)
	}
	v.hash = hash
	return v, nil
}

// IsSet reports whether a passcode has been set.
func (v *PasscodeVerifier) IsSet() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hash != ""
}

// Set sets the passcode. It fails with ErrPasscodeAlreadySet if one is set
// and with ErrPasscodeLength if passcode is too short or too long.
func (v *PasscodeVerifier) Set(ctx context.Context, passcode string) error {
	if err := checkPasscodeLen(passcode); err != nil {
		return err
	}
	hash, err := v.hasher.Hash(ctx, passcode)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.hash != "" {
		return ErrPasscodeAlreadySet
	}
	return v.store(hash)
}

// Change replaces the passcode after checking the current one, failing with
// ErrWrongPasscode if it does not match.
func (v *PasscodeVerifier) Change(ctx context.Context, current, next string) error {
	if err := checkPasscodeLen(next); err != nil {
		return err
	}
	old, ok, err := v.check(ctx, current)
	if err != nil {
		return err
	}
	if !ok {
		return ErrWrongPasscode
	}
	hash, err := v.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.hash != old {
		return errors.New("app passcode changed concurrently")
	}
	return v.store(hash)
}

// justSetKey marks a context whose flow has just set the passcode.
type justSetKey struct{}

// WithPasscodeJustSet returns ctx marked as the flow that has just set the
// passcode (Set): the user typed it twice a moment ago, so a Verify within
// that flow (the first enrolment's key registration) does not ask for it a
// third time. Only code that called Set in the same call chain may use it.
func WithPasscodeJustSet(ctx context.Context) context.Context {
	return context.WithValue(ctx, justSetKey{}, true)
}

// Verify implements UserVerifier: it asks the prompt for the passcode and
// reports whether it matches, without asking in a flow that has just set it
// (WithPasscodeJustSet); a wrong one is a *WrongPasscodeError. A passcode
// hashed with parameters other than the current ones is rehashed on success.
func (v *PasscodeVerifier) Verify(ctx context.Context, reason string) (bool, error) {
	if !v.IsSet() {
		return false, ErrPasscodeNotSet
	}
	if ctx.Value(justSetKey{}) != nil {
		return true, nil
	}
	if err := v.checkLock(); err != nil {
		return false, err
	}
	passcode, err := v.prompt(ctx, reason)
	if err != nil {
		return false, fmt.Errorf("passcode prompt: %w", err)
	}
	_, ok, err := v.check(ctx, passcode)
	if err == nil && !ok {
		v.mu.Lock()
		defer v.mu.Unlock()
		return false, &WrongPasscodeError{InARow: v.failures}
	}
	return ok, err
}

// check compares passcode with the stored hash, returning that hash, and
// rehashes it when the parameters changed. The guess is counted (and the
// count saved) before it is compared, so stopping the app mid-check does not
// save a guess; a match clears the count.
func (v *PasscodeVerifier) check(ctx context.Context, passcode string) (hash string, ok bool, err error) {
	v.mu.Lock()
	hash = v.hash
	if hash == "" {
		v.mu.Unlock()
		return "", false, ErrPasscodeNotSet
	}
	if err := v.lockedLocked(); err != nil {
		v.mu.Unlock()
		return hash, false, err
	}
	clears := v.clears
	err = v.saveAttemptsLocked(v.failures+1, v.now())
	v.mu.Unlock()
	if err != nil {
		return hash, false, err
	}
	ok, rehash, err := v.hasher.Verify(ctx, passcode, hash)
	if err != nil {
		// Not a wrong guess (a cancelled context): give it back, unless a
		// match cleared the count meanwhile (and this guess with it). Only
		// this one: overlapping checks have counted theirs since.
		v.mu.Lock()
		if v.clears == clears && v.failures > 0 {
			_ = v.saveAttemptsLocked(v.failures-1, v.lastFailure)
		}
		v.mu.Unlock()
		return hash, false, err
	}
	if !ok {
		return hash, false, nil
	}
	v.mu.Lock()
	err = v.saveAttemptsLocked(0, time.Time{})
	v.clears++
	v.mu.Unlock()
	if err != nil {
		return hash, false, err
	}
	if rehash {
		if fresh, err := v.hasher.Hash(ctx, passcode); err == nil {
			v.mu.Lock()
			if v.hash == hash {
				// A failed write keeps the old, still valid hash.
				_ = v.store(fresh)
			}
			v.mu.Unlock()
		}
	}
	return hash, true, nil
}

// store records hash, first in the file when there is one. v.mu is held.
func (v *PasscodeVerifier) store(hash string) error {
	if v.path != "" {
		if err := writeFileAtomic(v.path, []byte(hash+"\n")); err != nil {
			return fmt.Errorf("saving passcode hash: %w", err)
		}
	}
	v.hash = hash
	return nil
}

// checkLock fails with ErrPasscodeLocked while the lockout lasts, and with
// ErrPasscodeBlocked for good after MaxPasscodeFailures.
func (v *PasscodeVerifier) checkLock() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lockedLocked()
}

// lockedLocked is checkLock with v.mu held.
func (v *PasscodeVerifier) lockedLocked() error {
	switch {
	case v.failures >= MaxPasscodeFailures:
		return ErrPasscodeBlocked
	case v.failures >= MaxPasscodeAttempts && v.now().Before(v.lastFailure.Add(PasscodeLockout)):
		return ErrPasscodeLocked
	}
	return nil
}

// attemptsPath is the file holding the wrong-passcode count.
func (v *PasscodeVerifier) attemptsPath() string { return v.path + ".attempts" }

// loadAttempts reads the wrong-passcode count: "<count> <unix seconds of the
// last>". A file that cannot be read as one counts as a full lockout from
// now, so that damaging it does not reset the count.
func (v *PasscodeVerifier) loadAttempts() error {
	data, err := os.ReadFile(v.attemptsPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading passcode attempts: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 2 {
		n, nerr := strconv.Atoi(fields[0])
		sec, serr := strconv.ParseInt(fields[1], 10, 64)
		if nerr == nil && serr == nil && n >= 0 {
			v.failures, v.lastFailure = n, time.Unix(sec, 0)
			return nil
		}
	}
	v.failures, v.lastFailure = MaxPasscodeAttempts, v.now()
	return nil
}

// saveAttemptsLocked records the wrong-passcode count, first in the file when
// there is one. v.mu is held.
func (v *PasscodeVerifier) saveAttemptsLocked(failures int, last time.Time) error {
	if v.path != "" {
		var err error
		if failures == 0 {
			err = os.Remove(v.attemptsPath())
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		} else {
			err = writeFileAtomic(v.attemptsPath(), []byte(strconv.Itoa(failures)+" "+strconv.FormatInt(last.Unix(), 10)+"\n"))
		}
		if err != nil {
			return fmt.Errorf("saving passcode attempts: %w", err)
		}
	}
	v.failures, v.lastFailure = failures, last
	return nil
}

func checkPasscodeLen(passcode string) error {
	if n := utf8.RuneCountInString(passcode); n < MinPasscodeLen || n > MaxPasscodeLen {
		return ErrPasscodeLength
	}
	return nil
}
