package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
)

// Extensions are the parts of the deputy binary that this package does not
// link itself, so that its tests need not compile them: main passes them to
// RunWith.
type Extensions struct {
	// PushRelays builds the FCM and APNs relays the serve flags describe
	// (package internal/pushrelay, whose Firebase SDK takes long to compile);
	// nil refuses those flags.
	PushRelays func(context.Context, PushConfig) (core.PushRelay, error)
}

// PushConfig is what the --fcm-* and --apns-* flags of serve say, checked
// for completeness (pushConfigFrom); internal/pushrelay.Config has the same
// fields.
type PushConfig struct {
	FCMCredentials string // service-account key file (JSON)
	FCMProject     string
	APNsKey        string // signing key file (.p8)
	APNsKeyID      string
	APNsTeamID     string
	APNsTopic      string
	APNsSandbox    bool
}

// pushFlags configure the relays that wake companions through FCM and APNs
// when they hold no event stream open (Deputy's push tokens, PUT
// /multi/push/token). Key files hold secrets; their paths do not.
func pushFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "fcm-credentials", Usage: "service-account key file (JSON) of the Firebase project, with the Firebase Cloud Messaging API Admin role: wakes Android companions (with --fcm-project)", Sources: env("fcm-credentials")},
		&cli.StringFlag{Name: "fcm-project", Usage: "Firebase project id of the companion app (with --fcm-credentials)", Sources: env("fcm-project")},
		&cli.StringFlag{Name: "apns-key", Usage: "APNs signing key file (.p8) of the Apple developer team: wakes iOS companions (with --apns-key-id, --apns-team-id and --apns-topic)", Sources: env("apns-key")},
		&cli.StringFlag{Name: "apns-key-id", Usage: "key id of --apns-key", Sources: env("apns-key-id")},
		&cli.StringFlag{Name: "apns-team-id", Usage: "Apple developer team id", Sources: env("apns-team-id")},
		&cli.StringFlag{Name: "apns-topic", Usage: "bundle id of the companion app", Sources: env("apns-topic")},
		&cli.BoolFlag{Name: "apns-sandbox", Usage: "use APNs' development environment (development builds of the app)", Sources: env("apns-sandbox")},
	}
}

// pushConfigFrom reads the push relay flags; set is false when none is. A
// relay whose flags are incomplete is an error naming the one missing.
func pushConfigFrom(cmd *cli.Command) (c PushConfig, set bool, err error) {
	c = PushConfig{
		FCMCredentials: cmd.String("fcm-credentials"), FCMProject: cmd.String("fcm-project"),
		APNsKey: cmd.String("apns-key"), APNsKeyID: cmd.String("apns-key-id"), APNsTeamID: cmd.String("apns-team-id"),
		APNsTopic: cmd.String("apns-topic"), APNsSandbox: cmd.Bool("apns-sandbox"),
	}
	fcm := [][2]string{{"--fcm-credentials", c.FCMCredentials}, {"--fcm-project", c.FCMProject}}
	apns := [][2]string{{"--apns-key", c.APNsKey}, {"--apns-key-id", c.APNsKeyID}, {"--apns-team-id", c.APNsTeamID}, {"--apns-topic", c.APNsTopic}}
	for _, relay := range []struct {
		name  string
		flags [][2]string
		more  bool // a flag beyond these is set
	}{{"FCM", fcm, false}, {"APNs", apns, c.APNsSandbox}} {
		some := relay.more
		for _, f := range relay.flags {
			some = some || f[1] != ""
		}
		if !some {
			continue
		}
		set = true
		for _, f := range relay.flags {
			if f[1] == "" {
				return c, set, fmt.Errorf("%s is required to relay pushes to %s", f[0], relay.name)
			}
		}
	}
	return c, set, nil
}

// pushRelayFrom builds the relays the flags describe: none when no flag is
// set, and none in sandbox mode, which sends nothing for real.
func pushRelayFrom(ctx context.Context, cmd *cli.Command, ext Extensions, log *slog.Logger) (core.PushRelay, error) {
	c, set, err := pushConfigFrom(cmd)
	switch {
	case err != nil || !set:
		return nil, err
	case cmd.Bool("sandbox"):
		log.Warn("sandbox mode sends no pushes: the --fcm-* and --apns-* settings are not used")
		return nil, nil
	case ext.PushRelays == nil:
		return nil, errors.New("this deputy binary has no push relays: --fcm-* and --apns-* need the one `go build` makes of the module's main package")
	}
	return ext.PushRelays(ctx, c)
}
