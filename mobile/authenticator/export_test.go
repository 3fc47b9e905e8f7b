package authenticator

import (
	"time"

	"github.com/deputyhq/deputy/password"
)

// SetPasscodeClock replaces the clock that times v's lockout.
func SetPasscodeClock(v *PasscodeVerifier, now func() time.Time) { v.now = now }

// SetPasscodeHasher replaces the hasher that checks v's passcodes.
func SetPasscodeHasher(v *PasscodeVerifier, h *password.Hasher) { v.hasher = h }
