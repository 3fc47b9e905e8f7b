package authenticator

import "time"

// SetPasscodeClock replaces the clock that times v's lockout.
func SetPasscodeClock(v *PasscodeVerifier, now func() time.Time) { v.now = now }
