// Package authenticator is the WebAuthn authenticator inside Deputy's mobile
// companion: a pure-Go emulation of a platform authenticator that holds P-256
// (ES256) credentials, answers registration and authentication ceremonies with
// the exact bytes a browser and a built-in authenticator would produce, and
// asks the user to verify themselves before every signature.
//
// It owns:
//
//   - the ceremonies: [Authenticator.Register] builds the clientDataJSON
//     (WebAuthn Level 3 §5.8.1), the authenticator data with attested
//     credential data (§6.1, §6.5.1), the COSE_Key (§6.5.1.2, RFC 9053 §7.1.1)
//     and a "none" attestation object (§6.5.4, §8.7); [Authenticator.Assert]
//     builds the authenticator data with an incremented signature counter
//     (§6.1.1) and signs authenticatorData || SHA-256(clientDataJSON) with
//     ECDSA, DER encoded (§6.3.3 step 11, RFC 9053 §2.1);
//   - the wire format: [Attestation] and [Assertion] marshal to the
//     RegistrationResponseJSON and AuthenticationResponseJSON bodies (§5.1.8,
//     §5.1.9) that relying parties such as github.com/go-webauthn/webauthn
//     parse, and [ParseCreationOptions] and [ParseRequestOptions] read the
//     PublicKeyCredentialCreationOptionsJSON and
//     PublicKeyCredentialRequestOptionsJSON (§5.1.10, §5.1.11) a server sends;
//   - the client's checks a browser would make before calling an
//     authenticator: the origin is a secure origin and the RP ID is its host or
//     a parent domain of it (§5.1.3 step 8, §5.1.4.1 step 9), with the
//     simplification that the public suffix list is not consulted;
//   - key storage through the [KeyStore] interface, with a [MemoryStore] for
//     tests and a [FileStore] (one 0600 file per credential, replaced
//     atomically) for desktop builds;
//   - user verification through the [UserVerifier] interface, with a
//     [PasscodeVerifier] (an app passcode kept as an argon2id hash) for
//     devices without a biometric prompt.
//
// The package imports no UI toolkit, no cgo and nothing desktop-only, so it
// builds for android and ios as well as for desktops; the Fyne companion and
// the headless companion CLI are both built on it.
//
// # Android and iOS
//
// On phones, the key material should live in the platform keystore, where it
// cannot be copied off the device, and user verification should be the
// platform's biometric prompt:
//
//   - Storage plugs in by passing [New] a [KeyStore] whose [Credential.Key] is
//     a [crypto.Signer] backed by the Android Keystore (an EC P-256 key with
//     PURPOSE_SIGN and setUserAuthenticationRequired) or by the iOS Keychain
//     with a Secure Enclave key (kSecAttrTokenIDSecureEnclave,
//     kSecAccessControlBiometryCurrentSet). Such a store should also implement
//     [KeyGenerator], so that [Authenticator.Register] asks it to create the
//     key inside the hardware instead of generating one in Go memory. Its
//     counter (NextCounter) can stay in ordinary app storage: it is not secret.
//   - User verification plugs in by passing [New] a [UserVerifier] whose
//     Verify shows BiometricPrompt (androidx.biometric, BIOMETRIC_STRONG) or
//     LAContext.evaluatePolicy (LocalAuthentication,
//     deviceOwnerAuthenticationWithBiometrics) with the reason string, and
//     reports whether it succeeded. With a time-bound keystore key
//     (setUserAuthenticationParameters with a timeout of a few seconds), the
//     keystore itself refuses to sign unless that prompt just succeeded.
//
// The platform code lives in the companion's android- and ios-tagged files,
// not here (Fyne's driver.RunNative hands them the Android JNI environment; on
// iOS a small Objective-C or Swift shim is reached through cgo), and adapts
// the platform APIs to [KeyStore] and [UserVerifier], so this package stays
// free of cgo. Such a store should pass the contract suite in package
// keystoretest on a device. The desktop build uses [FileStore] and
// [PasscodeVerifier], whose keys are protected only by the file permissions;
// on a desktop the passcode gates the companion's use of the key but does not
// encrypt it.
//
// # Counters
//
// Each credential has its own signature counter, starting at 0 at
// registration. [Authenticator.Assert] increments it through
// [KeyStore.NextCounter], which must persist the new value before returning
// it, so that a crash after a signature has left the device can never make
// the next signature reuse a counter value. A counter at 2^32-1 stops the
// credential with [ErrCounterOverflow] rather than wrapping to 0.
package authenticator
