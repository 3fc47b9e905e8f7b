package authenticator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/deputyhq/deputy/mobile/authenticator"
)

// Example runs both ceremonies the way the companion does: it receives the
// options JSON from the server, answers with the authenticator, and sends
// back the JSON body. Here the server is go-webauthn in the same process.
func Example() {
	ctx := context.Background()
	rp, err := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "Deputy", RPOrigins: []string{"https://localhost"}})
	if err != nil {
		log.Fatal(err)
	}
	user := &testUser{id: []byte("user-1")}

	// The companion: keys in memory (a FileStore on desktops, the platform
	// keystore on phones), and a user verifier (the biometric prompt or a
	// PasscodeVerifier) that here always succeeds.
	verify := authenticator.UserVerifierFunc(func(ctx context.Context, reason string) (bool, error) {
		fmt.Println("prompt:", reason)
		return true, nil
	})
	a, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), verify)
	if err != nil {
		log.Fatal(err)
	}

	// Registration.
	creation, session, _ := rp.BeginRegistration(user, webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}))
	options, _ := json.Marshal(creation) // what the server sends
	req, err := authenticator.ParseCreationOptions(options, "https://localhost")
	if err != nil {
		log.Fatal(err)
	}
	att, err := a.Register(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := json.Marshal(att) // what the companion sends back
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	cred, err := rp.CreateCredential(user, *session, parsed)
	if err != nil {
		log.Fatal(err)
	}
	user.creds = append(user.creds, *cred)
	fmt.Println("registered with attestation", cred.AttestationType, "user verified:", cred.Flags.UserVerified)

	// Authentication.
	assertion, loginSession, _ := rp.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationRequired))
	options, _ = json.Marshal(assertion)
	areq, err := authenticator.ParseRequestOptions(options, "https://localhost")
	if err != nil {
		log.Fatal(err)
	}
	areq.Reason = "Approve: create user bob@example.com with role ADMIN"
	as, err := a.Assert(ctx, areq)
	if err != nil {
		log.Fatal(err)
	}
	body, _ = json.Marshal(as)
	parsedAssertion, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	cred, err = rp.ValidateLogin(user, *loginSession, parsedAssertion)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in, sign count", cred.Authenticator.SignCount)

	// Output:
	// prompt: Register this device with Deputy as alice@example.com
	// registered with attestation none user verified: true
	// prompt: Approve: create user bob@example.com with role ADMIN
	// signed in, sign count 1
}
