package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/control"
	"github.com/deputyhq/deputy/internal/storeopen"
)

func programmeCommand() *cli.Command {
	return &cli.Command{
		Name:  "programme",
		Usage: "manage programmes (tenants), their keys and settings",
		Commands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a programme and print its secret api key and public ui key (shown once)",
				Flags: append([]cli.Flag{
					dbFlag("deputy.db"),
					required(&cli.StringFlag{Name: "name", Usage: "programme name", Sources: env("programme-name")}),
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				}, settingsFlags()...),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					set, err := settingsFrom(cmd, core.ProgrammeSettings{})
					if err != nil {
						return err
					}
					ops, done, err := openOperations(ctx, cmd.String("db"), true)
					if err != nil {
						return err
					}
					defer done()
					out, err := ops.CreateProgramme(ctx, core.NewProgramme{Name: cmd.String("name"), Settings: set})
					if err != nil {
						return err
					}
					return printProgramme(cmd.Root().Writer, out, cmd.Bool("json"))
				},
			},
			{
				Name:  "rotate-key",
				Usage: "replace the secret api key or the public ui key; the old one keeps working for --grace",
				Flags: []cli.Flag{
					dbFlag("deputy.db"),
					required(&cli.StringFlag{Name: "id", Usage: "programme id"}),
					required(&cli.StringFlag{Name: "key", Usage: "which key: secret or ui"}),
					&cli.DurationFlag{Name: "grace", Value: 24 * time.Hour, Usage: "how long the old key keeps working (0 ends it now; at most 720h)"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					kind := core.UIKey
					switch cmd.String("key") {
					case "secret":
						kind = core.SecretKey
					case "ui":
					default:
						return fmt.Errorf("--key %q: want secret or ui", cmd.String("key"))
					}
					if g := cmd.Duration("grace"); g < 0 || g > 30*24*time.Hour {
						return fmt.Errorf("--grace %v: want 0 (the old key stops at once) to 720h", g)
					}
					ops, done, err := openOperations(ctx, cmd.String("db"), false)
					if err != nil {
						return err
					}
					defer done()
					key, err := ops.RotateKey(ctx, cmd.String("id"), kind, cmd.Duration("grace"))
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						return json.NewEncoder(w).Encode(map[string]string{"id": cmd.String("id"), "key": kind.String(), "value": key})
					}
					_, err = fmt.Fprintf(w, "New %s key for programme %s (shown once; the old one works for %v more):\n  %s\n", kind, cmd.String("id"), cmd.Duration("grace"), key)
					return err
				},
			},
			{
				Name:  "settings",
				Usage: "change a programme's settings (flags not given keep their value)",
				Flags: append([]cli.Flag{
					dbFlag("deputy.db"),
					required(&cli.StringFlag{Name: "id", Usage: "programme id"}),
				}, settingsFlags()...),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					ops, done, err := openOperations(ctx, cmd.String("db"), false)
					if err != nil {
						return err
					}
					defer done()
					p, err := ops.Programme(ctx, cmd.String("id"))
					if err != nil {
						return err
					}
					set, err := settingsFrom(cmd, p.Settings)
					if err != nil {
						return err
					}
					p, err = ops.UpdateProgrammeSettings(ctx, p.ID, &p.Settings, set)
					if err != nil {
						return err
					}
					return json.NewEncoder(cmd.Root().Writer).Encode(settingsJSON(p.Settings))
				},
			},
			webhooksCommand(),
		},
	}
}

// settingsFlags are the per-programme settings an operator can set.
func settingsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "password-profile", Value: "weavr", Usage: "password policy: weavr or nist", Sources: env("password-profile")},
		&cli.IntFlag{Name: "otp-attempts", Value: 5, Usage: "wrong codes a challenge allows (1..5)"},
		&cli.BoolFlag{Name: "require-tokenised-passwords", Usage: "refuse plaintext passwords: clients must send tokens from POST /multi/tokenize"},
		&cli.StringFlag{Name: "allowed-origins", Usage: "comma-separated web origins allowed to frame the password capture component"},
		&cli.StringFlag{Name: "invite-url", Usage: "the embedder's invite page: a template with {userId} and {code} (https://app/invite?user_id={userId}&nonce={code}), or a URL to which userId and code are added; https only outside sandbox"},
		&cli.StringFlag{Name: "reset-url", Usage: "the embedder's password-reset page, a template with {email} and {code}; https only outside sandbox"},
		&cli.StringFlag{Name: "sender-name", Usage: "the name emails come from (default: the programme's name)"},
		&cli.BoolFlag{Name: "biometrics", Usage: "let users enrol the companion app's biometric credential and approve push step-ups and sign-ins with it"},
		&cli.StringFlag{Name: "resource-types", Usage: "comma-separated kinds of operation users confirm beyond Weavr's four (sends, outgoing_wire_transfers, ...), e.g. card_orders"},
		&cli.StringFlag{Name: "step-up-scope", Value: "session", Usage: "what a verified step-up authorises: session (the session, as Weavr) or operation (the one operation it named, once)"},
	}
}

// settingsFrom applies the flags the user set on top of base.
func settingsFrom(cmd *cli.Command, base core.ProgrammeSettings) (core.ProgrammeSettings, error) {
	set := base
	if cmd.IsSet("password-profile") || base.PasswordProfile == "" {
		set.PasswordProfile = cmd.String("password-profile")
	}
	if cmd.IsSet("otp-attempts") {
		n := cmd.Int("otp-attempts")
		if n < 1 || n > 5 {
			return set, fmt.Errorf("--otp-attempts %d: want 1 to 5", n)
		}
		set.OTPAttempts = n
	}
	if cmd.IsSet("require-tokenised-passwords") {
		set.RequireTokenisedPasswords = cmd.Bool("require-tokenised-passwords")
	}
	if cmd.IsSet("allowed-origins") {
		set.AllowedOrigins = commaList(cmd.String("allowed-origins"))
	}
	if cmd.IsSet("resource-types") {
		set.ResourceTypes = nil
		for _, t := range commaList(cmd.String("resource-types")) {
			set.ResourceTypes = append(set.ResourceTypes, core.ResourceType(t))
		}
	}
	if cmd.IsSet("invite-url") {
		set.InviteURL = cmd.String("invite-url")
	}
	if cmd.IsSet("reset-url") {
		set.ResetURL = cmd.String("reset-url")
	}
	if cmd.IsSet("sender-name") {
		set.SenderName = cmd.String("sender-name")
	}
	if cmd.IsSet("biometrics") {
		set.Biometrics = cmd.Bool("biometrics")
	}
	if cmd.IsSet("step-up-scope") {
		switch sc := core.StepUpScope(strings.ToUpper(cmd.String("step-up-scope"))); sc {
		case core.StepUpSession, core.StepUpOperation:
			set.StepUpScope = sc
		default:
			return set, fmt.Errorf("--step-up-scope %q: want session or operation", cmd.String("step-up-scope"))
		}
	}
	return set, nil
}

// commaList splits a comma-separated flag value, dropping blanks.
func commaList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// openOperations gives an operator command the programmes of the database
// db: for a bbolt file, through the control socket of the server running on
// it, when one answers there (bbolt lets one process at a time open the file);
// otherwise by opening the database itself, which PostgreSQL shares with
// running servers. done releases what it opened. Unless create (programme
// create), a bbolt file must exist: a mistyped --db would otherwise become a
// new, empty database, and the command would say only "programme not found".
func openOperations(ctx context.Context, db string, create bool) (ops control.Operations, done func(), err error) {
	if !storeopen.IsPostgres(db) {
		if c, err := control.Dial(ctx, db); err == nil {
			return c, func() {}, nil
		}
		if _, err := os.Stat(db); !create && errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("--db: %w (`deputy serve` or `deputy programme create` makes a new database)", err)
		}
	}
	return openOffline(ctx, db)
}

// openOffline opens the database for an operator command (no server, no senders).
func openOffline(ctx context.Context, db string) (*core.Service, func(), error) {
	store, err := storeopen.Open(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	refuse := refusingSender{}
	svc, err := core.New(ctx, core.Config{Offline: true, Logger: slog.New(slog.DiscardHandler)}, store, core.Integrations{SMS: refuse, Email: refuse}, core.SystemClock{})
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
		return json.NewEncoder(w).Encode(map[string]string{"id": out.Programme.ID, "name": out.Programme.Name, "apiKey": out.APIKey, "uiKey": out.UIKey})
	}
	_, err := fmt.Fprintf(w, `Programme %q created, id %s. The keys are shown once:
  secret api key  %s   (the embedder's backend only)
  public ui key   %s   (the admin TUI, the companion app, the browser capture component)
`, out.Programme.Name, out.Programme.ID, out.APIKey, out.UIKey)
	return err
}

// programmeSettings is a programme's settings in the API's JSON style.
type programmeSettings struct {
	PasswordProfile           string   `json:"passwordProfile"`
	SenderName                string   `json:"senderName,omitempty"`
	InviteURL                 string   `json:"inviteUrl,omitempty"`
	ResetURL                  string   `json:"resetUrl,omitempty"`
	RequireTokenisedPasswords bool     `json:"requireTokenisedPasswords"`
	AllowedOrigins            []string `json:"allowedOrigins,omitempty"`
	OTPAttempts               int      `json:"otpAttempts"`
	Biometrics                bool     `json:"biometrics"`
	ResourceTypes             []string `json:"resourceTypes"`
	StepUpScope               string   `json:"stepUpScope"`
}

// settingsJSON is what `programme settings` prints: every setting in force.
func settingsJSON(s core.ProgrammeSettings) programmeSettings {
	return programmeSettings{
		PasswordProfile: s.PasswordProfile, SenderName: s.SenderName, InviteURL: s.InviteURL, ResetURL: s.ResetURL,
		RequireTokenisedPasswords: s.RequireTokenisedPasswords, AllowedOrigins: s.AllowedOrigins,
		OTPAttempts: s.AttemptsPerChallenge(), Biometrics: s.Biometrics, ResourceTypes: s.ResourceTypeNames(),
		StepUpScope: string(s.Scope()),
	}
}
