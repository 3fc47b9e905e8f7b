package core

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// TestOTPCheck: the verdicts of the one check, guess by guess, which the
// callers map to their answers (TestOneTimeCodesFollowOneRule runs them
// through each caller).
func TestOTPCheck(t *testing.T) {
	keys := newKeyring([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	nonce, hash, err := keys.sealOTP(purposeOTP, "123456")
	must.NoError(t, err)
	other, _, err := keys.sealOTP(purposeOTP, "123456")
	must.NoError(t, err)
	must.NotEqual(t, nonce, other, "every code gets its own nonce")

	code := func(attempts int) (otpCode, *int) {
		return otpCode{purpose: purposeOTP, nonce: nonce, hash: hash, live: true, expiresAt: now.Add(time.Minute),
			attempts: &attempts, maxAttempts: 3}, &attempts
	}
	for _, tc := range []struct {
		name     string
		change   func(*otpCode)
		attempts int // wrong guesses before
		guess    string
		at       time.Time
		want     error
		counted  int // wrong guesses after
	}{
		{name: "right code", guess: "123456", at: now},
		{name: "right code, a second before the end", guess: "123456", at: now.Add(time.Minute - time.Second)},
		{name: "wrong code", guess: "123457", at: now, want: errOTPWrong, counted: 1},
		{name: "wrong code, one attempt left", attempts: 1, guess: "123457", at: now, want: errOTPLastAttempt, counted: 2},
		{name: "wrong code, the last attempt", attempts: 2, guess: "123457", at: now, want: errOTPExhausted, counted: 3},
		{name: "out of attempts", attempts: 3, guess: "123456", at: now, want: errOTPUsed, counted: 3},
		{name: "expired", guess: "123456", at: now.Add(time.Minute), want: errOTPExpired},
		{name: "used", change: func(o *otpCode) { o.live = false }, guess: "123456", at: now, want: errOTPUsed},
		{name: "another purpose", change: func(o *otpCode) { o.purpose = purposeInvite }, guess: "123456", at: now, want: errOTPWrong, counted: 1},
		{name: "another nonce", change: func(o *otpCode) { o.nonce = other }, guess: "123456", at: now, want: errOTPWrong, counted: 1},
		{name: "no attempt count (a budget limits guesses)", change: func(o *otpCode) { o.attempts = nil }, guess: "123457", at: now, want: errOTPWrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, attempts := code(tc.attempts)
			if tc.change != nil {
				tc.change(&o)
			}
			got := o.check(keys, tc.guess, tc.at)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.counted, *attempts, "wrong guesses counted")
		})
	}
	assert.True(t, errors.Is(errOTPLastAttempt, errOTPWrong), "one attempt left is a wrong guess too")
	assert.False(t, errors.Is(errOTPExhausted, errOTPWrong), "the last wrong guess voids the code: callers must tell it apart")
}
