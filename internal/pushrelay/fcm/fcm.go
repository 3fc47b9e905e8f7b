// Package fcm relays Deputy's push events to Firebase Cloud Messaging's
// HTTP v1 API (firebase.google.com/go/v4/messaging) as a service account: a
// data-only message carrying the event's ids only (core.PushEvent.Data),
// which wakes the companion to read the challenge from Deputy itself.
package fcm

import (
	"context"
	"fmt"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/deputyhq/deputy/core"
)

// Config is what the relay needs of the Firebase project.
type Config struct {
	// CredentialsFile is a service-account key (JSON) of the project with
	// the Firebase Cloud Messaging API Admin role.
	CredentialsFile string
	// ProjectID is the Firebase project; empty takes the key's project_id.
	ProjectID string
	// Endpoint replaces FCM's endpoint, https://fcm.googleapis.com/v1 (a
	// test's fake); empty for Google's.
	Endpoint string
}

// Scope is the one OAuth 2.0 scope the relay's access tokens carry.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// Relay sends push events to FCM. It is safe for concurrent use.
type Relay struct {
	client *messaging.Client
}

var _ core.PushRelay = (*Relay)(nil)

// New reads the service-account key and builds the relay; the access token
// is fetched on the first push. Errors never quote the key.
func New(ctx context.Context, cfg Config) (*Relay, error) {
	opts := []option.ClientOption{
		option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile),
		option.WithScopes(Scope), // not the Admin SDK's defaults, which reach Firestore and Cloud Storage too
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", cfg.CredentialsFile, err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", cfg.CredentialsFile, err)
	}
	return &Relay{client: client}, nil
}

// Notify sends e to the registration token to as a data-only message, of
// high priority for a challenge (so that Android wakes the app at once) and
// normal otherwise. FCM's UNREGISTERED wraps core.ErrPushTokenRejected.
func (r *Relay) Notify(ctx context.Context, to core.PushToken, e core.PushEvent) error {
	if to.Platform != core.PushFCM {
		return fmt.Errorf("fcm: a %s token", to.Platform)
	}
	priority := "normal"
	if e.Kind == core.PushEventChallenge {
		priority = "high"
	}
	_, err := r.client.Send(ctx, &messaging.Message{Token: to.Token, Data: e.Data(), Android: &messaging.AndroidConfig{Priority: priority}})
	switch {
	case err == nil:
		return nil
	case messaging.IsUnregistered(err):
		return fmt.Errorf("fcm: %v: %w", err, core.ErrPushTokenRejected)
	default:
		return fmt.Errorf("fcm: %w", err)
	}
}
