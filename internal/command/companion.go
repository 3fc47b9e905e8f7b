package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// companionCommand is the headless companion: what the mobile companion app
// does for a user's biometric factor, on the command line, for scripts and
// automated tests. It holds the credential in a state directory (a
// FileStore) and verifies the user with an app passcode.
func companionCommand() *cli.Command {
	return &cli.Command{
		Name:  "companion",
		Usage: "a headless companion app: enrol this machine as the user's device and answer push challenges",
		Description: `The companion signs in as the user (ui key, email and password) for every command.
Its state directory keeps the WebAuthn credential (one 0600 file per key), the
app passcode's hash and the device's id. The passcode is what user verification
asks for before every signature: set it with --passcode (or DEPUTY_COMPANION_PASSCODE)
on the first enrolment and give it again to approve.`,
		Commands: []*cli.Command{
			{
				Name:   "enrol",
				Usage:  "enrol this device for biometrics: an SMS code is sent, then a credential is registered (replaces any other device)",
				Flags:  append(companionFlags(), &cli.StringFlag{Name: "device-name", Usage: "what the user calls this device (default: the host name)"}, &cli.StringFlag{Name: "code", Usage: "the SMS code (sandbox: 123456); asked on standard input when not given"}),
				Action: companionEnrol,
			},
			{
				Name:   "pending",
				Usage:  "list the push challenges waiting for this device (step-ups, sign-ins, and confirmations with every resource's amount and payee)",
				Flags:  append(companionFlags(), &cli.DurationFlag{Name: "wait", Usage: "when none is pending, wait this long for one (at most 25s)"}),
				Action: companionPending,
			},
			{
				Name:  "approve",
				Usage: "approve a push challenge: pick the number the requesting screen shows and sign with the device's credential",
				Flags: append(companionFlags(),
					required(&cli.StringFlag{Name: "id", Usage: "the challenge id"}),
					required(&cli.IntFlag{Name: "number", Usage: "the number shown by the requesting client"})),
				Action: companionApprove,
			},
			{
				Name:  "decline",
				Usage: "decline a push challenge; --not-me says \"I did not do this\" and signs the user out everywhere",
				Flags: append(companionFlags(),
					required(&cli.StringFlag{Name: "id", Usage: "the challenge id"}),
					&cli.BoolFlag{Name: "not-me", Usage: "I did not do this: end every session of the user and record a security event"}),
				Action: companionDecline,
			},
			{
				Name:   "unlink",
				Usage:  "unlink this device: steps the session up by approving its own push challenge, unlinks, and forgets the credential",
				Flags:  companionFlags(),
				Action: companionUnlink,
			},
			{
				Name:   "watch",
				Usage:  "print the device's push events (challenge, resolved, unlinked) as JSON lines until interrupted",
				Flags:  companionFlags(),
				Action: companionWatch,
			},
		},
	}
}

func companionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8080", Usage: "the Deputy server's URL", Sources: env("server")},
		required(&cli.StringFlag{Name: "key", Usage: "the programme's public ui key", Sources: env("ui-key")}),
		required(&cli.StringFlag{Name: "email", Usage: "the user's email", Sources: env("companion-email")}),
		required(&cli.StringFlag{Name: "password", Usage: "the user's password", Sources: env("companion-password")}),
		&cli.StringFlag{Name: "dir", Usage: "the state directory (default: the user's config directory, deputy/companion)", Sources: env("companion-dir")},
		&cli.StringFlag{Name: "passcode", Usage: "the app passcode that user verification asks for (6 to 128 characters)", Sources: env("companion-passcode")},
		&cli.StringFlag{Name: "origin", Value: "https://localhost", Usage: "the web origin this companion acts for (the server's --webauthn-origin)", Sources: env("companion-origin")},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
	}
}

// deviceFile is what the state directory remembers about the device.
type deviceFile struct {
	DeviceID     string `json:"deviceId"`
	DeviceName   string `json:"deviceName"`
	Server       string `json:"server"`
	Email        string `json:"email"`
	CredentialID []byte `json:"credentialId"`
	// DeviceSecret is what the server gave the device at its enrolment: each
	// command's new session speaks for the device with it. The file is the
	// owner's only (0600), as the keys are.
	DeviceSecret string `json:"deviceSecret,omitempty"`
}

// companion is one run of a companion command: signed in, with its state.
type companion struct {
	dir    string
	origin string
	out    io.Writer
	json   bool
	c      *client.Client
	s      *client.Session
	keys   *authenticator.FileStore
	pass   *authenticator.PasscodeVerifier
	auth   *authenticator.Authenticator
	device *deviceFile // nil before the first enrolment
}

const deviceFileName = "device.json"

// openCompanion reads the state directory and signs the user in.
func openCompanion(ctx context.Context, cmd *cli.Command) (*companion, error) {
	dir := cmd.String("dir")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no state directory: pass --dir: %w", err)
		}
		dir = filepath.Join(base, "deputy", "companion")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	keys, err := authenticator.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, err
	}
	passcode := cmd.String("passcode")
	pass, err := authenticator.NewPasscodeVerifier(filepath.Join(dir, "passcode"), func(context.Context, string) (string, error) {
		if passcode == "" {
			return "", errors.New("user verification needs the app passcode: pass --passcode or set DEPUTY_COMPANION_PASSCODE")
		}
		return passcode, nil
	})
	if err != nil {
		return nil, err
	}
	auth, err := authenticator.New(authenticator.Config{}, keys, pass)
	if err != nil {
		return nil, err
	}
	co := &companion{dir: dir, origin: cmd.String("origin"), out: cmd.Root().Writer, json: cmd.Bool("json"), keys: keys, pass: pass, auth: auth}
	data, err := os.ReadFile(filepath.Join(dir, deviceFileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		co.device = &deviceFile{}
		if err := json.Unmarshal(data, co.device); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, deviceFileName), err)
		}
	}
	co.c, err = client.New(cmd.String("server"), cmd.String("key"), client.WithUserAgent("deputy-companion-cli/1"))
	if err != nil {
		return nil, err
	}
	login, err := co.c.LoginWithPassword(ctx, cmd.String("email"), cmd.String("password"))
	if err != nil {
		return nil, err
	}
	if login, err = co.c.AccessLogin(ctx, login); err != nil { // linked credentials sign in with an auth token
		return nil, err
	}
	co.s = co.c.Session(login.Token)
	if co.device != nil && co.device.Server == co.c.BaseURL() && co.device.Email == cmd.String("email") {
		co.s = co.s.WithDeviceSecret(co.device.DeviceSecret) // only where it was enrolled
	}
	return co, nil
}

// requireDevice fails unless this directory holds an enrolled device.
func (co *companion) requireDevice() error {
	if co.device == nil {
		return fmt.Errorf("no device enrolled in %s: run `deputy companion enrol` first", co.dir)
	}
	return nil
}

func (co *companion) saveDevice() error {
	b, err := json.MarshalIndent(co.device, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(co.dir, deviceFileName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(co.dir, deviceFileName))
}

// print writes v as JSON with --json, else the text.
func (co *companion) print(v any, text string) error {
	if co.json {
		return json.NewEncoder(co.out).Encode(v)
	}
	_, err := fmt.Fprintln(co.out, text)
	return err
}

func companionEnrol(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	if !co.pass.IsSet() {
		if err := co.pass.Set(ctx, cmd.String("passcode")); err != nil {
			return fmt.Errorf("set the app passcode (--passcode): %w", err)
		}
	}
	dev := co.device
	if dev == nil {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		dev = &deviceFile{DeviceID: "cli-" + hex.EncodeToString(id)}
	}
	if dev.DeviceName = cmd.String("device-name"); dev.DeviceName == "" {
		if dev.DeviceName, err = os.Hostname(); err != nil || dev.DeviceName == "" {
			dev.DeviceName = "deputy companion"
		}
	}
	options, err := co.s.BeginBiometricEnrolment(ctx, dev.DeviceID, dev.DeviceName)
	if err != nil {
		return err
	}
	req, err := authenticator.ParseCreationOptions(options, co.origin)
	if err != nil {
		return err
	}
	code := cmd.String("code")
	if code == "" {
		fmt.Fprint(cmd.Root().ErrWriter, "SMS code: ")
		if _, err := fmt.Fscanln(os.Stdin, &code); err != nil {
			return fmt.Errorf("read the SMS code: %w", err)
		}
	}
	att, err := co.auth.Register(ctx, req)
	if err != nil {
		return err
	}
	secret, err := co.s.FinishBiometricEnrolment(ctx, strings.TrimSpace(code), att)
	if err != nil {
		_ = co.keys.Delete(att.CredentialID) // the server did not take it
		return err
	}
	if dev.CredentialID != nil {
		_ = co.keys.Delete(dev.CredentialID) // replaced: the server forgot it too
	}
	dev.CredentialID, dev.Server, dev.Email, dev.DeviceSecret = att.CredentialID, co.c.BaseURL(), cmd.String("email"), secret
	co.device = dev
	if err := co.saveDevice(); err != nil {
		return err
	}
	return co.print(map[string]string{"deviceId": dev.DeviceID, "deviceName": dev.DeviceName},
		fmt.Sprintf("Enrolled %q (device %s) for %s: biometric and SMS factors are active.", dev.DeviceName, dev.DeviceID, dev.Email))
}

// challengeOut is a pending challenge as the CLI prints it in JSON.
type challengeOut struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Summary   string `json:"summary"`
	Choices   []int  `json:"choices"`
	ExpiresAt string `json:"expiresAt"`
	// SummaryFromRequester: the summary is the requester's own words, which
	// the server did not check (client.PushChallenge.SummaryFromRequester).
	SummaryFromRequester bool `json:"summaryFromRequester,omitempty"`
}

func companionPending(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	if err := co.requireDevice(); err != nil {
		return err
	}
	list, err := co.s.PendingPush(ctx, co.device.DeviceID, cmd.Duration("wait"))
	if err != nil {
		return err
	}
	if co.json {
		out := make([]challengeOut, 0, len(list))
		for _, c := range list {
			out = append(out, challengeOut{ID: c.ID, Kind: c.Kind, Summary: c.Summary, Choices: c.Choices, ExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339),
				SummaryFromRequester: c.SummaryFromRequester})
		}
		return json.NewEncoder(co.out).Encode(out)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(co.out, "No pending challenges.")
		return err
	}
	tw := tabwriter.NewWriter(co.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCHOICES\tEXPIRES\tSUMMARY")
	for _, c := range list {
		summary := oneLine(c.Summary)
		if c.SummaryFromRequester {
			summary = "“" + summary + "” (the requester's own words)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", c.ID, c.Kind, c.Choices, c.ExpiresAt.Format(time.TimeOnly), summary)
	}
	return tw.Flush()
}

// oneLine puts a summary of several lines on one, for the table and
// messages: a confirmation's title, then every resource's amount and payee,
// separated by semicolons.
func oneLine(summary string) string {
	title, rest, ok := strings.Cut(summary, "\n")
	if !ok {
		return summary
	}
	return title + " " + strings.ReplaceAll(rest, "\n", "; ")
}

// approve signs challenge id's options and approves it with number.
func (co *companion) approve(ctx context.Context, id string, number int, summary string) error {
	options, err := co.s.PushOptions(ctx, id)
	if err != nil {
		return err
	}
	req, err := authenticator.ParseRequestOptions(options, co.origin)
	if err != nil {
		return err
	}
	req.Reason = summary // what the passcode (or biometric) prompt shows
	as, err := co.auth.Assert(ctx, req)
	if err != nil {
		return err
	}
	return co.s.ApprovePush(ctx, id, number, as)
}

func companionApprove(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	if err := co.requireDevice(); err != nil {
		return err
	}
	id, number := cmd.String("id"), cmd.Int("number")
	summary := ""
	if list, err := co.s.PendingPush(ctx, co.device.DeviceID, 0); err == nil {
		for _, c := range list {
			if c.ID == id {
				summary = c.Summary
			}
		}
	}
	if err := co.approve(ctx, id, number, summary); err != nil {
		return err
	}
	return co.print(map[string]string{"id": id, "state": client.PushApproved}, fmt.Sprintf("Approved challenge %s: %s", id, oneLine(summary)))
}

func companionDecline(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	reason := client.DeclineCancelled
	if cmd.Bool("not-me") {
		reason = client.DeclineNotMe
	}
	id := cmd.String("id")
	if err := co.s.DeclinePush(ctx, id, reason); err != nil {
		return err
	}
	text := fmt.Sprintf("Declined challenge %s.", id)
	if reason == client.DeclineNotMe {
		text += " Every session of the user has ended; the user was alerted by email."
	}
	return co.print(map[string]string{"id": id, "state": client.PushDeclined, "reason": reason}, text)
}

func companionUnlink(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	if err := co.requireDevice(); err != nil {
		return err
	}
	err = co.s.UnlinkBiometric(ctx)
	if errors.Is(err, client.ErrStepUpRequired) {
		// Approve on this device what the server asks for (the session, or
		// under operation-bound step-ups the unlink alone), then repeat.
		summary := "Unlink this device"
		if ae := (*client.Error)(nil); errors.As(err, &ae) && ae.Operation != nil {
			summary = ae.Operation.Summary
		}
		up, perr := co.s.StepUpPush(ctx, summary, client.StepUpFor(err))
		if perr != nil {
			return perr
		}
		if err := co.approve(ctx, up.ID, up.Number, summary); err != nil {
			return err
		}
		err = co.s.UnlinkBiometric(ctx)
	}
	if err != nil {
		return err
	}
	if err := co.keys.Delete(co.device.CredentialID); err != nil && !errors.Is(err, authenticator.ErrNoCredential) {
		return err
	}
	if err := os.Remove(filepath.Join(co.dir, deviceFileName)); err != nil {
		return err
	}
	return co.print(map[string]string{"deviceId": co.device.DeviceID, "state": "UNLINKED"},
		fmt.Sprintf("Unlinked device %s and deleted its credential.", co.device.DeviceID))
}

func companionWatch(ctx context.Context, cmd *cli.Command) error {
	co, err := openCompanion(ctx, cmd)
	if err != nil {
		return err
	}
	if err := co.requireDevice(); err != nil {
		return err
	}
	stream, err := co.s.PushEvents(ctx, co.device.DeviceID)
	if err != nil {
		return err
	}
	defer stream.Close()
	enc := json.NewEncoder(co.out)
	for {
		e, err := stream.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := enc.Encode(map[string]any{"event": e.Type, "data": e.Data}); err != nil {
			return err
		}
		if e.Type == client.EventUnlinked {
			return nil
		}
	}
}
