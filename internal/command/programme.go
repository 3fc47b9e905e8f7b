package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

func programmeCommand() *cli.Command {
	return &cli.Command{
		Name:  "programme",
		Usage: "manage programmes (tenants) and their keys",
		Commands: []*cli.Command{{
			Name:  "create",
			Usage: "create a programme and print its secret api key (shown once)",
			Flags: []cli.Flag{
				dbFlag("deputy.db"),
				&cli.StringFlag{Name: "name", Required: true, Usage: "programme name", Sources: env("programme-name")},
				&cli.StringFlag{Name: "password-profile", Value: "weavr", Usage: "password policy: weavr or nist", Sources: env("password-profile")},
				&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			},
			Action: func(ctx context.Context, cmd *cli.Command) error {
				svc, closeStore, err := openOffline(ctx, cmd.String("db"))
				if err != nil {
					return err
				}
				defer closeStore()
				out, err := svc.CreateProgramme(ctx, core.NewProgramme{
					Name:     cmd.String("name"),
					Settings: core.ProgrammeSettings{PasswordProfile: cmd.String("password-profile")},
				})
				if err != nil {
					return err
				}
				return printProgramme(cmd.Root().Writer, out, cmd.Bool("json"))
			},
		}},
	}
}

// openOffline opens the database for an operator command (no server, no senders).
func openOffline(ctx context.Context, path string) (*core.Service, func(), error) {
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return nil, nil, err
	}
	refuse := refusingSender{}
	svc, err := core.New(ctx, core.Config{Logger: slog.New(slog.DiscardHandler)}, store, core.Integrations{SMS: refuse, Email: refuse}, core.SystemClock{})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, func() { store.Close() }, nil
}

// refusingSender backs operator commands, which never send messages.
type refusingSender struct{}

func (refusingSender) SendSMS(context.Context, core.SMS) error {
	return fmt.Errorf("operator commands do not send SMS")
}

func (refusingSender) SendEmail(context.Context, core.Email) error {
	return fmt.Errorf("operator commands do not send email")
}

func printProgramme(w io.Writer, out *core.CreatedProgramme, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]string{"id": out.Programme.ID, "name": out.Programme.Name, "apiKey": out.APIKey})
	}
	_, err := fmt.Fprintf(w, "Programme %q created, id %s.\nSecret api key (shown once; keep it on your backend only):\n  %s\n",
		out.Programme.Name, out.Programme.ID, out.APIKey)
	return err
}
