//go:build !android && !ios

package main

import (
	"path/filepath"
	"runtime"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/screens"
)

const platformName = runtime.GOOS

// userVerifier is the desktop's: an app passcode, kept as an argon2id hash
// in the app's storage directory. The user chooses it on the biometric
// screen the first time and types it before every signature.
func userVerifier(dir string, prompt authenticator.PasscodePrompt) (authenticator.UserVerifier, screens.Passcode, error) {
	v, err := authenticator.NewPasscodeVerifier(filepath.Join(dir, "passcode.hash"), prompt)
	if err != nil {
		return nil, nil, err
	}
	return v, v, nil
}
