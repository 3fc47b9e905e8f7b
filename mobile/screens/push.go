package screens

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/deputyhq/deputy/server/client"
)

// PushAPI is what the biometric, approval and unlink screens need of the
// server on behalf of the signed-in user (issue 6: Deputy's open forms of
// Weavr enrolDeviceUsingPush, stepupSCAChallengePush and
// unlinkDeviceUsingPush). *client.Session has every method but WatchPush,
// which [DialClient]'s adapter builds on Session.PushEvents and
// Session.PendingPush.
type PushAPI interface {
	// BeginBiometricEnrolment texts a code to the user's mobile and returns
	// the WebAuthn creation options for this device.
	BeginBiometricEnrolment(ctx context.Context, deviceID, deviceName string, opts ...client.CallOption) (json.RawMessage, error)
	// FinishBiometricEnrolment sends the texted code and the attestation;
	// any other device of the user is unlinked.
	FinishBiometricEnrolment(ctx context.Context, code string, credential any, opts ...client.CallOption) (string, error)
	// PendingPush lists the challenges waiting for the device.
	PendingPush(ctx context.Context, deviceID string, wait time.Duration) ([]client.PushChallenge, error)
	// PushOptions returns the WebAuthn request options that approve challenge id.
	PushOptions(ctx context.Context, id string) (json.RawMessage, error)
	// ApprovePush answers challenge id with the picked number and the assertion.
	ApprovePush(ctx context.Context, id string, number int, credential any) error
	// DeclinePush refuses challenge id (client.DeclineCancelled or client.DeclineNotMe).
	DeclinePush(ctx context.Context, id, reason string) error
	// UnlinkBiometric removes the user's device (needs a stepped-up session).
	UnlinkBiometric(ctx context.Context, opts ...client.CallOption) error
	// Info reads the session's numbers: a code's life, attempts and resend
	// time (Deputy sessionGet), so screens show the server's, never their own.
	Info(ctx context.Context) (*client.SessionInfo, error)
	// RegisterPushToken gives the server the platform's push token of the
	// linked device, replacing the one it had.
	RegisterPushToken(ctx context.Context, deviceID, platform, token string) error
	// WatchPush hands the device's push events to f, from one goroutine,
	// until ctx ends or the stream fails.
	WatchPush(ctx context.Context, deviceID string, f func(client.PushEvent)) error
}

// sessionPush adds WatchPush to *client.Session.
type sessionPush struct{ *client.Session }

var _ PushAPI = sessionPush{}

// longPollWait is how long one long-poll waits for a challenge; pollPause is
// the least time between the starts of two polls: while challenges are
// already waiting the server answers at once, and a server or proxy that
// does not honour the wait answers at once too.
const (
	longPollWait = 25 * time.Second
	pollPause    = 3 * time.Second
)

// WatchPush reads the server-sent event stream (GET /multi/push/stream).
// When the stream cannot be opened for a reason other than the server's
// refusal (a proxy that does not pass event streams, a 404 from an older
// server), it falls back to long-polling GET /multi/push/pending.
func (p sessionPush) WatchPush(ctx context.Context, deviceID string, f func(client.PushEvent)) error {
	st, err := p.PushEvents(ctx, deviceID)
	if err != nil {
		var ae *client.Error
		if ctx.Err() != nil || (errors.As(err, &ae) && ae.Status != http.StatusNotFound && ae.Status < 500) {
			return err
		}
		return p.longPoll(ctx, deviceID, f)
	}
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	defer st.Close()
	for {
		ev, err := st.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		f(ev)
	}
}

// longPoll turns the pending list into challenge and resolved events.
func (p sessionPush) longPoll(ctx context.Context, deviceID string, f func(client.PushEvent)) error {
	seen := map[string]bool{}
	for {
		started := time.Now()
		list, err := p.PendingPush(ctx, deviceID, longPollWait)
		if err != nil {
			return err
		}
		now := map[string]bool{}
		for i := range list {
			ch := list[i]
			now[ch.ID] = true
			if !seen[ch.ID] {
				f(client.PushEvent{Type: client.EventChallenge, Challenge: &ch})
			}
		}
		for id := range seen {
			if !now[id] {
				f(client.PushEvent{Type: client.EventResolved, Resolved: &client.PushStatus{ID: id}})
			}
		}
		seen = now
		if rest := pollPause - time.Since(started); rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// rpIDOf reads the relying party id from WebAuthn options: rp.id of creation
// options or rpId of request options, with or without the "publicKey"
// wrapper.
func rpIDOf(options []byte) string {
	var o struct {
		PublicKey *struct {
			RP struct {
				ID string `json:"id"`
			} `json:"rp"`
			RPID string `json:"rpId"`
		} `json:"publicKey"`
		RP struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
	}
	if json.Unmarshal(options, &o) != nil {
		return ""
	}
	if o.PublicKey != nil {
		if o.PublicKey.RP.ID != "" {
			return o.PublicKey.RP.ID
		}
		return o.PublicKey.RPID
	}
	if o.RP.ID != "" {
		return o.RP.ID
	}
	return o.RPID
}

// originFor is the web origin the companion acts for in a ceremony: the one
// the connect link named (the server's --webauthn-origin), else the
// canonical origin of the server's RP ID, https://<rp id>, which matches the
// server's defaults (RP ID localhost, origin https://localhost) and a
// deployment whose RP ID is its own host. The companion is not a browser,
// so there is no page origin to report instead.
func originFor(configured string, options []byte) string {
	if configured != "" {
		return configured
	}
	rp := rpIDOf(options)
	if rp == "" {
		return ""
	}
	return "https://" + rp
}
