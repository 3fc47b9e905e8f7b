//go:build android || ios

package main

import (
	"path/filepath"
	"runtime"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/screens"
)

const platformName = runtime.GOOS

// userVerifier is the phone's. The platform biometric prompt plugs in here:
// an authenticator.UserVerifier whose Verify shows BiometricPrompt
// (androidx.biometric, BIOMETRIC_STRONG) on Android, reached through
// fyne's driver.RunNative and JNI, or LAContext.evaluatePolicy
// (deviceOwnerAuthenticationWithBiometrics) on iOS through a small cgo
// shim, and returns nil for screens.Passcode so that the biometric screen
// does not ask for an app passcode (see the authenticator package's
// "Android and iOS" section for the matching KeyStore).
//
// That bridge needs the Android NDK or Xcode to build and a device to test,
// neither of which this repository's CI has, so until it exists phones fall
// back to the same app passcode as desktops.
func userVerifier(dir string, prompt authenticator.PasscodePrompt) (authenticator.UserVerifier, screens.Passcode, error) {
	v, err := authenticator.NewPasscodeVerifier(filepath.Join(dir, "passcode.hash"), prompt)
	if err != nil {
		return nil, nil, err
	}
	return v, v, nil
}
