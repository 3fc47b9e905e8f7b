// Package pushrelay builds the push relays of `deputy serve --fcm-* --apns-*`
// (packages fcm and apns) and sends each push event to the relay of its
// token's platform. Only the deputy binary links it, not internal/command,
// whose tests would otherwise compile the Firebase SDK.
package pushrelay

import (
	"context"
	"fmt"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/pushrelay/apns"
	"github.com/deputyhq/deputy/internal/pushrelay/fcm"
)

// Config is what the serve flags say (internal/command.PushConfig, checked
// for completeness there): an empty FCMCredentials or APNsKey builds no relay
// for that platform.
type Config struct {
	FCMCredentials string
	FCMProject     string
	APNsKey        string
	APNsKeyID      string
	APNsTeamID     string
	APNsTopic      string
	APNsSandbox    bool
}

// ByPlatform sends each push event to the relay of its token's platform.
type ByPlatform map[core.PushPlatform]core.PushRelay

var _ core.PushRelay = ByPlatform(nil)

// Notify implements core.PushRelay. A token of a platform without a relay
// is an error (logged by core): the companion registered one that this
// server was not configured to reach.
func (b ByPlatform) Notify(ctx context.Context, to core.PushToken, e core.PushEvent) error {
	r, ok := b[to.Platform]
	if !ok {
		return fmt.Errorf("a %s push token, but no relay for it (deputy serve --fcm-* or --apns-*)", to.Platform)
	}
	return r.Notify(ctx, to, e)
}

// New builds the relays cfg describes; its errors name the flags at fault.
func New(ctx context.Context, cfg Config) (ByPlatform, error) {
	b := ByPlatform{}
	if cfg.FCMCredentials != "" {
		r, err := fcm.New(ctx, fcm.Config{CredentialsFile: cfg.FCMCredentials, ProjectID: cfg.FCMProject})
		if err != nil {
			return nil, fmt.Errorf("--fcm-*: %w", err)
		}
		b[core.PushFCM] = r
	}
	if cfg.APNsKey != "" {
		r, err := apns.New(apns.Config{KeyFile: cfg.APNsKey, KeyID: cfg.APNsKeyID, TeamID: cfg.APNsTeamID, Topic: cfg.APNsTopic, Sandbox: cfg.APNsSandbox})
		if err != nil {
			return nil, fmt.Errorf("--apns-*: %w", err)
		}
		b[core.PushAPNs] = r
	}
	return b, nil
}
