// Package apns relays Deputy's push events to the Apple Push Notification
// service (github.com/sideshow/apns2) with token-based authentication: a
// background notification carrying the event's ids only (core.PushEvent.Data),
// which wakes the companion to read the challenge from Deputy itself.
package apns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"

	"github.com/deputyhq/deputy/core"
)

// Config is what the relay needs of the app's Apple developer account.
type Config struct {
	KeyFile string // the APNs signing key (.p8, PKCS #8 PEM), from Certificates, Identifiers & Profiles > Keys
	KeyID   string // its key id
	TeamID  string // the developer team id
	Topic   string // the companion's bundle id
	Sandbox bool   // APNs' development environment, for development builds of the app
	// Host and HTTPClient replace Apple's host and HTTP/2 transport (a
	// test's fake); empty for Apple's.
	Host       string
	HTTPClient *http.Client
}

// Apple's ids are ten characters; a bundle id is reverse-DNS.
var (
	reAppleID  = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	reBundleID = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

// Relay sends push events to APNs. It is safe for concurrent use.
type Relay struct {
	client *apns2.Client
	topic  string
}

var _ core.PushRelay = (*Relay)(nil)

// New reads the signing key and builds the relay. Its errors name the
// Config field at fault and never quote the key.
func New(cfg Config) (*Relay, error) {
	switch {
	case !reAppleID.MatchString(cfg.KeyID):
		return nil, fmt.Errorf("key id %q: want the 10 characters Apple shows for the key", cfg.KeyID)
	case !reAppleID.MatchString(cfg.TeamID):
		return nil, fmt.Errorf("team id %q: want the 10-character team id of the developer account", cfg.TeamID)
	case !reBundleID.MatchString(cfg.Topic):
		return nil, fmt.Errorf("topic %q: want the companion's bundle id, such as com.example.deputy", cfg.Topic)
	}
	key, err := token.AuthKeyFromFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("key %s: want an APNs signing key (.p8): %w", cfg.KeyFile, err)
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}).Production()
	if cfg.Sandbox {
		c.Development()
	}
	if cfg.Host != "" {
		c.Host = cfg.Host
	}
	if cfg.HTTPClient != nil {
		c.HTTPClient = cfg.HTTPClient
	}
	return &Relay{client: c, topic: cfg.Topic}, nil
}

// Notify sends e to the device token to as a background notification
// (apns-push-type background, priority 5, as Apple requires for one without
// an alert). 410 Unregistered and 400 BadDeviceToken wrap
// core.ErrPushTokenRejected. Errors never quote the device token.
func (r *Relay) Notify(ctx context.Context, to core.PushToken, e core.PushEvent) error {
	if to.Platform != core.PushAPNs {
		return fmt.Errorf("apns: a %s token", to.Platform)
	}
	p := payload.NewPayload().ContentAvailable()
	for k, v := range e.Data() {
		p.Custom(k, v)
	}
	res, err := r.client.PushWithContext(ctx, &apns2.Notification{
		DeviceToken: to.Token, Topic: r.topic, PushType: apns2.PushTypeBackground, Priority: apns2.PriorityLow, Payload: p,
	})
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL holds the device token
	}
	switch {
	case err != nil:
		return fmt.Errorf("apns: %w", err)
	case res.Sent():
		return nil
	case res.StatusCode == http.StatusGone || res.Reason == apns2.ReasonBadDeviceToken:
		return fmt.Errorf("apns: %d %s: %w", res.StatusCode, res.Reason, core.ErrPushTokenRejected)
	default:
		return fmt.Errorf("apns: %d %s", res.StatusCode, res.Reason)
	}
}
