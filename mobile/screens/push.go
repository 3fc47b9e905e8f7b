package screens

import (
	"context"
	"time"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// PushChallenge is a push step-up waiting for this device's answer (issue 6):
// an operation someone is trying to do as this user, to approve or decline.
type PushChallenge struct {
	ID string
	// Summary says what is being approved, for example "Create user
	// alice@example.com with role ADMIN". The assertion is bound to it.
	Summary string
	// Choices are three 2-digit numbers; one of them is shown on the
	// requesting screen and the user must pick it.
	Choices []int
	// ExpiresAt is when the challenge stops accepting an answer.
	ExpiresAt time.Time
	// Options are the WebAuthn PublicKeyCredentialRequestOptionsJSON to sign.
	Options []byte
}

// PushEvent is one message of the push stream.
type PushEvent struct {
	// Challenge is a new challenge for this device.
	Challenge *PushChallenge
	// Gone is the id of a challenge that was answered elsewhere or expired.
	Gone string
	// Unlinked: this device's credential was replaced by another device's
	// enrolment or removed, so nothing more will come here.
	Unlinked bool
}

// BiometricEnrolment is a started enrolment of this device: a code was texted
// to the user's mobile.
type BiometricEnrolment struct {
	// ExpiresAt is when the texted code stops working.
	ExpiresAt time.Time
}

// Device names this device to the server.
type Device struct {
	ID   string // a random id made at the first enrolment and kept
	Name string // shown to admins, e.g. "Deputy companion on linux"
}

// PushAPI is what the biometric and approval screens need of the server, on
// behalf of the signed-in user (issue 6: enrolDeviceUsingPush,
// stepupSCAChallengePush, unlinkDeviceUsingPush).
type PushAPI interface {
	// BeginBiometric starts enrolling this device: the server texts a code to
	// the user's mobile.
	BeginBiometric(ctx context.Context) (*BiometricEnrolment, error)
	// BiometricOptions checks the texted code (which also activates SMS if
	// it was not active) and returns the WebAuthn
	// PublicKeyCredentialCreationOptionsJSON for this device.
	BiometricOptions(ctx context.Context, code string) ([]byte, error)
	// FinishBiometric registers the credential; any other device of the user
	// is unlinked.
	FinishBiometric(ctx context.Context, device Device, att *authenticator.Attestation) error
	// Pending lists the challenges waiting for this device.
	Pending(ctx context.Context) ([]PushChallenge, error)
	// Watch delivers the push stream's events to f, from one goroutine, until
	// ctx ends or the stream fails.
	Watch(ctx context.Context, f func(PushEvent)) error
	// Approve answers a challenge with the picked number and the assertion.
	Approve(ctx context.Context, id string, number int, as *authenticator.Assertion) error
	// Decline refuses a challenge; notMe says "I did not do this", which ends
	// the user's sessions and records a security event.
	Decline(ctx context.Context, id string, notMe bool) error
	// Unlink removes this device's credential (needs a stepped-up session).
	Unlink(ctx context.Context) error
}

// pushAdapter returns the push calls of the typed client, or nil while the
// client does not offer them.
func pushAdapter(c *client.Client, token string) PushAPI {
	return nil
}
