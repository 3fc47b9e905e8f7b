package command

import (
	"context"
	"errors"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui"
)

// sandboxProbeTimeout bounds the call that finds out whether the server is a sandbox.
const sandboxProbeTimeout = 5 * time.Second

func adminCommand() *cli.Command {
	return &cli.Command{
		Name:  "admin",
		Usage: "manage authorised users in the terminal UI",
		Flags: []cli.Flag{
			required(&cli.StringFlag{Name: "server", Usage: "the Deputy server's URL, e.g. https://auth.example.com", Sources: env("server")}),
			required(&cli.StringFlag{Name: "key", Usage: "the programme's public ui key", Sources: env("key")}),
			&cli.StringFlag{Name: "email", Usage: "pre-fill the sign-in with this email", Sources: env("email")},
			&cli.BoolFlag{Name: "sandbox", Usage: "show the sandbox outbox (default: ask the server whether it is a sandbox)", Sources: env("sandbox")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			switch {
			case cmd.String("server") == "":
				return errors.New("--server (DEPUTY_SERVER) is required: the Deputy server's URL")
			case cmd.String("key") == "":
				return errors.New("--key (DEPUTY_KEY) is required: the programme's public ui key")
			}
			c, err := client.New(cmd.String("server"), cmd.String("key"), client.WithUserAgent("deputy-admin/1"))
			if err != nil {
				return err
			}
			sandbox := cmd.Bool("sandbox")
			if !cmd.IsSet("sandbox") {
				sandbox = isSandbox(ctx, c)
			}
			return tui.Run(ctx, tui.Options{Client: c, Email: cmd.String("email"), Sandbox: sandbox})
		},
	}
}

// isSandbox asks the server for its outbox, which only a sandbox has: a
// sandbox answers it (or, to the public ui key without a session, refuses
// it), any other server does not know it. A server that cannot be reached
// is taken as not a sandbox; the UI then says what is wrong at sign-in.
func isSandbox(ctx context.Context, c *client.Client) bool {
	ctx, cancel := context.WithTimeout(ctx, sandboxProbeTimeout)
	defer cancel()
	_, err := c.Outbox(ctx, 1)
	return err == nil || errors.Is(err, client.ErrForbidden)
}
