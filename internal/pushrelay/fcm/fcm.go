// Package fcm relays Deputy's push events to Firebase Cloud Messaging's
// HTTP v1 API (firebase.google.com/go/v4/messaging) as a service account: a
// data-only message carrying the event's ids only (core.PushEvent.Data),
// which wakes the companion to read the challenge from Deputy itself.
package fcm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"

	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/deputyhq/deputy/core"
)

// Config is what the relay needs of the Firebase project.
type Config struct {
	// CredentialsFile is a service-account key (JSON) of the project with
	// the Firebase Cloud Messaging API Admin role.
	CredentialsFile string
	// ProjectID is the Firebase project.
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
	if cfg.ProjectID == "" {
		return nil, errors.New("project: required")
	}
	opts := []option.ClientOption{
		option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile),
		option.WithScopes(Scope), // not the Admin SDK's defaults, which reach Firestore and Cloud Storage too
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	client, err := newMessaging(ctx, messaging.NewClient, cfg.ProjectID, opts)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", cfg.CredentialsFile, err)
	}
	return &Relay{client: client}, nil
}

// newMessaging builds the messaging client as firebase.App.Messaging does,
// without the firebase package: that one links every Firebase service
// (Firestore, Cloud Storage, ...), which takes six times as long to compile
// as messaging alone. messaging.NewClient takes a config of a type internal
// to the SDK, C here, whose exported fields are set by name; a renamed field
// fails here, at startup and in the tests.
func newMessaging[C any](ctx context.Context, newClient func(context.Context, *C) (*messaging.Client, error), project string, opts []option.ClientOption) (*messaging.Client, error) {
	c := new(C)
	v := reflect.ValueOf(c).Elem()
	for name, val := range map[string]any{"ProjectID": project, "Opts": opts, "Version": sdkVersion()} {
		f := v.FieldByName(name)
		if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeOf(val) {
			return nil, fmt.Errorf("firebase messaging: its config has no %s field of type %T", name, val)
		}
		f.Set(reflect.ValueOf(val))
	}
	return newClient(ctx, c)
}

// sdkVersion is the Firebase Admin SDK's version as the binary records it
// (firebase.Version), which FCM sees in its client headers.
func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "firebase.google.com/go/v4" {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return "unknown"
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
	m := &messaging.Message{Data: e.Data(), Android: &messaging.AndroidConfig{Priority: priority}}
	//lint:ignore SA1019 the companion registers what FirebaseMessaging.getToken() gives, a registration token; a Firebase installation id (Fid) is another value
	m.Token = to.Token
	_, err := r.client.Send(ctx, m)
	switch {
	case err == nil:
		return nil
	case messaging.IsUnregistered(err):
		return fmt.Errorf("fcm: %v: %w", err, core.ErrPushTokenRejected)
	default:
		return fmt.Errorf("fcm: %w", err)
	}
}
