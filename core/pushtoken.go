package core

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PushPlatform is the push service that wakes a companion: Deputy's relays
// (PushRelay) send it push events, ids only, when the companion holds no
// event stream open.
type PushPlatform string

// Push platforms.
const (
	PushFCM  PushPlatform = "FCM"  // Firebase Cloud Messaging (HTTP v1 API): Android
	PushAPNs PushPlatform = "APNS" // Apple Push Notification service: iOS
)

// PushToken is where a push service reaches the companion on a device: an
// FCM registration token or an APNs device token, as the platform gave it to
// the app.
type PushToken struct {
	Platform PushPlatform
	Token    string
}

// Rules of push tokens, as a 400 quotes them. FCM does not publish its
// tokens' format; they are URL-safe base64 with a colon (about 160
// characters today), so the rule bounds the alphabet and the length. An APNs
// device token is hex (32 bytes today; Apple warns that it may grow, up to
// 100 bytes).
var (
	reFCMToken  = regexp.MustCompile(`^[A-Za-z0-9_:.-]+$`)
	reAPNsToken = regexp.MustCompile(`^(?:[0-9A-Fa-f]{2}){32,100}$`)
)

// Bounds of an FCM token's length.
const (
	minFCMToken = 32
	maxFCMToken = 4096
)

// PushRelayTimeout bounds one PushRelay.Notify, retries included.
const PushRelayTimeout = 15 * time.Second

// ErrPushTokenRejected is what a PushRelay wraps when the push service says
// the token is no longer valid (FCM UNREGISTERED, APNs 410 Unregistered or
// BadDeviceToken): Deputy then forgets it until the companion registers again.
var ErrPushTokenRejected = errors.New("push service rejected the device token")

// Canonical checks t's platform and shape, as ErrInvalid naming
// "platform" or "token", and returns it with an APNs token in lower case.
func (t PushToken) Canonical() (PushToken, error) {
	switch t.Platform {
	case PushFCM:
		if n := len(t.Token); n < minFCMToken || n > maxFCMToken {
			return t, Invalid("token", ReasonSize, strconv.Itoa(minFCMToken), strconv.Itoa(maxFCMToken))
		}
		if !reFCMToken.MatchString(t.Token) {
			return t, Invalid("token", ReasonRegex, reFCMToken.String())
		}
	case PushAPNs:
		if !reAPNsToken.MatchString(t.Token) {
			return t, Invalid("token", ReasonRegex, reAPNsToken.String())
		}
		t.Token = strings.ToLower(t.Token)
	default:
		return t, Invalid("platform", ReasonIn, string(PushFCM), string(PushAPNs))
	}
	return t, nil
}

// RegisterPushToken stores the push token of the caller's linked device
// deviceID, replacing the one it had (Deputy extension: the companion sends
// it whenever the platform gives it one). Only the linked device may: any
// other gets CHANNEL_NOT_REGISTERED (requireDevice). The token goes when the
// device is replaced, unlinked or reset (retireFactor, a new enrolment).
func (s *Service) RegisterPushToken(ctx context.Context, c *Caller, deviceID string, t PushToken) error {
	t, err := t.Canonical()
	if err != nil {
		return err
	}
	err = s.updateAs(ctx, c, func(tx Tx) error {
		f, err := s.requireDevice(tx, c, deviceID)
		if err != nil {
			return err
		}
		if f.Push != nil && *f.Push == t {
			return nil
		}
		f.Push = &t
		return tx.PutFactor(f)
	})
	return internal("register push token", err)
}

// relay hands e to the push relay in the background, addressed to the push
// token of the user's linked device, if it has one: the challenge and
// resolved events only, since an unlinked device's token is forgotten with
// its credential. A token the service rejects is forgotten. WaitForMail
// waits for it.
func (s *Service) relay(ctx context.Context, e PushEvent) {
	if s.send.Push == nil || (e.Kind != PushEventChallenge && e.Kind != PushEventResolved) {
		return
	}
	s.background.RLock()
	go func() {
		defer s.background.RUnlock()
		ctx := context.WithoutCancel(ctx)
		var to *PushToken
		err := s.store.View(ctx, func(tx ReadTx) error {
			f, err := activeFactor(tx, e.UserID, ChannelBiometric)
			if err == nil {
				to = f.Push
			}
			var ce *Error
			if errors.As(err, &ce) {
				err = nil // no linked device: nobody to wake
			}
			return err
		})
		if err == nil && to != nil {
			relayCtx, cancel := context.WithTimeout(ctx, PushRelayTimeout)
			err = s.send.Push.Notify(relayCtx, *to, e)
			cancel()
		}
		if errors.Is(err, ErrPushTokenRejected) {
			err = s.forgetPushToken(ctx, e.UserID, *to)
		}
		if err != nil {
			s.log.ErrorContext(ctx, "push relay", slog.String("user", e.UserID), slog.String("event", string(e.Kind)), slog.String("error", err.Error()))
		}
	}()
}

// forgetPushToken clears the push token of the user's linked device if it is
// still t (the companion may have registered a new one meanwhile).
func (s *Service) forgetPushToken(ctx context.Context, userID string, t PushToken) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		f, err := tx.Factor(userID, ChannelBiometric)
		if errors.Is(err, ErrRecordNotFound) {
			return nil
		}
		if err != nil || f.Push == nil || *f.Push != t {
			return err
		}
		f.Push = nil
		return tx.PutFactor(f)
	})
	if err == nil {
		s.log.InfoContext(ctx, "push token rejected by the push service: forgotten until the companion registers again", slog.String("user", userID), slog.String("platform", string(t.Platform)))
	}
	return internal("forget push token", err)
}
