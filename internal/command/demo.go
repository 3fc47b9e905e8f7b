package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/control"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/tui"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:     "demo",
		Usage:    "run the sandbox demo: a seeded server on a free loopback port",
		Commands: []*cli.Command{demoInfoCommand()},
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "where the demo keeps its database (default: deputy/demo in the user's config directory, ~/.config/deputy/demo on Linux)", Sources: env("data-dir")},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen address (port 0 picks a free port)", Sources: env("demo-addr"), Local: true},
			&cli.BoolFlag{Name: "headless", Usage: "serve only, without the admin UI (the default when standard input is not a terminal)", Sources: env("headless"), Local: true},
		}, localFlags(logFlags())...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			dir, err := demoDir(cmd.String("data-dir"))
			if err != nil {
				return err
			}
			logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer logFile.Close()
			log, err := newLogger(logFile, cmd.String("log-format"), cmd.String("log-level"))
			if err != nil {
				return err
			}
			db, credsPath := filepath.Join(dir, demoDBFile), filepath.Join(dir, demoCredentialsFile)
			if _, err := os.Stat(credsPath); errors.Is(err, fs.ErrNotExist) {
				// No finished seed: start from an empty database rather than half a demo.
				if err := os.Remove(db); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			signer, verifier, err := loadAuditSigner(db+".audit-key", log)
			if err != nil {
				return err
			}
			defer password.TuneGC(password.DefaultMemoryLimit)()
			inst, err := openInstance(ctx, instanceConfig{DB: db, Sandbox: true, Log: log, Audit: auditConfig{Signer: signer, Verifier: verifier}})
			if err != nil {
				return err
			}
			defer inst.Close()
			creds, err := seedDemo(ctx, inst.svc, credsPath)
			if err != nil {
				return err
			}
			stopControl, err := inst.serveControl(ctx, db, log)
			if err != nil {
				return err
			}
			defer stopControl()
			ln, err := net.Listen("tcp", cmd.String("addr"))
			if err != nil {
				return err
			}
			if !onLoopback(ln.Addr().String()) {
				// The log goes to a file: say it where the operator looks.
				log.Warn(sandboxBeyondLoopback)
				fmt.Fprintln(stderrOr(cmd.Root().ErrWriter), "deputy demo: warning: "+sandboxBeyondLoopback+". The root user's password below is no secret either.")
			}
			url := "http://" + ln.Addr().String()
			if err := os.WriteFile(filepath.Join(dir, demoURLFile), []byte(url+"\n"), 0o600); err != nil {
				ln.Close()
				return err
			}
			printDemo(cmd.Root().Writer, url, dir, creds)
			if cmd.Bool("headless") || !term.IsTerminal(int(os.Stdin.Fd())) {
				fmt.Fprintln(cmd.Root().Writer, "Press Ctrl-C to stop.")
				return inst.Serve(ctx, ln)
			}
			return runDemoUI(ctx, inst, ln, url, creds)
		},
	}
}

// localFlags keeps the string flags of flags (the log flags) to the demo
// itself: `demo info` takes only --data-dir.
func localFlags(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		if s, ok := f.(*cli.StringFlag); ok {
			s.Local = true
		}
	}
	return flags
}

// Files in the demo's data directory besides its database and log: what the
// seed made (keys and the root user's password), and the address of the
// demo server started last, for `deputy demo info`.
const (
	demoDBFile          = "demo.db"
	demoCredentialsFile = "demo.json"
	demoURLFile         = "server.url"
)

// demoInfoCommand prints the banner of the running demo, or of the last one,
// again: the demo picks a new port each time, and its keys are in its data
// directory only.
func demoInfoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "print the banner of the running demo, or of the last one: its server, keys, root user and codes",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			dir, err := demoDirPath(cmd.String("data-dir"))
			if err != nil {
				return err
			}
			creds, err := readDemoCredentials(filepath.Join(dir, demoCredentialsFile))
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no demo in %s yet: `deputy demo` seeds one", dir)
			}
			if err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(dir, demoURLFile))
			if err != nil {
				return fmt.Errorf("the demo in %s has not served yet: `deputy demo` starts it: %w", dir, err)
			}
			url := strings.TrimSpace(string(b))
			w := cmd.Root().Writer
			printDemo(w, url, dir, creds)
			if demoRunning(ctx, filepath.Join(dir, demoDBFile)) {
				_, err = fmt.Fprintln(w, "The demo is running.")
			} else {
				_, err = fmt.Fprintln(w, "The demo is not running: `deputy demo` starts it again, on a new port.")
			}
			return err
		},
	}
}

// demoRunning reports whether the demo whose database is db runs: its
// control socket, in the demo's private data directory, answers. Nothing is
// sent to the address it served on: once it has stopped, anyone may listen
// there, and any key (the ui key too, with the root user's published
// password) would sign them in.
func demoRunning(ctx context.Context, db string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := control.Dial(ctx, db)
	return err == nil
}

// runDemoUI serves in the background and opens the admin UI signed in as the
// root user; quitting the UI stops the server.
func runDemoUI(ctx context.Context, inst *instance, ln net.Listener, url string, creds *demoCredentials) error {
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- inst.Serve(serveCtx, ln) }()
	c, err := client.New(url, creds.UIKey, client.WithUserAgent("deputy-demo/1"))
	if err == nil {
		err = tui.Run(ctx, tui.Options{Client: c, Email: creds.RootEmail, Password: creds.RootPassword, Sandbox: true})
	}
	stop()
	return errors.Join(err, <-served)
}

// demoDirPath is the demo's data directory: flag, or else the user's.
func demoDirPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: pass --data-dir: %w", err)
	}
	return filepath.Join(base, "deputy", "demo"), nil
}

// demoDir returns (and creates) the demo's data directory.
func demoDir(flag string) (string, error) {
	dir, err := demoDirPath(flag)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	return dir, nil
}

// demoCredentials is what the demo seeds and remembers between runs (a sandbox
// only: real keys are never written to disk by Deputy).
type demoCredentials struct {
	ProgrammeID  string `json:"programmeId"`
	APIKey       string `json:"apiKey"`
	UIKey        string `json:"uiKey"`
	IdentityID   string `json:"identityId"`
	RootEmail    string `json:"rootEmail"`
	RootPassword string `json:"rootPassword"`
}

// demoPassword is the seeded root user's password (sandbox demo only).
const demoPassword = "Deputy-demo-1"

// seedDemo seeds a programme, a corporate and its root user once, remembering
// the credentials in path; later runs read them back.
func seedDemo(ctx context.Context, svc *core.Service, path string) (*demoCredentials, error) {
	c, err := readDemoCredentials(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	prog, err := svc.CreateProgramme(ctx, core.NewProgramme{Name: "Deputy Demo", Settings: core.ProgrammeSettings{Biometrics: true}})
	if err != nil {
		return nil, fmt.Errorf("seed programme: %w", err)
	}
	// The fields Weavr's Corporate requires beside the root user's, as the
	// server keeps them (server/identities.go corporateProfile), so the seeded
	// corporate answers like one created through the API.
	profile, _ := json.Marshal(map[string]any{
		"profileId": "1", "ipAddress": "127.0.0.1", "baseCurrency": "GBP", "companyPosition": "DIRECTOR",
		"company": map[string]string{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
	})
	ident, root, err := svc.CreateIdentity(ctx, prog.Programme, core.NewIdentity{
		Type: core.Corporate, Name: "Acme Ltd", Profile: profile,
		Root: core.UserDetails{Name: "Ada", Surname: "Admin", Email: "ada@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900001"}},
	})
	if err != nil {
		return nil, fmt.Errorf("seed corporate: %w", err)
	}
	signedIn, err := svc.CreatePassword(ctx, prog.Programme, root.ID, demoPassword)
	if err != nil {
		return nil, fmt.Errorf("seed root password: %w", err)
	}
	if err := seedDemoUsers(ctx, svc, prog.Programme, signedIn.Token); err != nil {
		return nil, err
	}
	c = &demoCredentials{ProgrammeID: prog.Programme.ID, APIKey: prog.APIKey, UIKey: prog.UIKey, IdentityID: ident.ID, RootEmail: root.Email, RootPassword: demoPassword}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// readDemoCredentials reads what seedDemo remembered in path.
func readDemoCredentials(path string) (*demoCredentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c demoCredentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w (delete the demo directory to start over)", path, err)
	}
	return &c, nil
}

// demoUsers are the example authorised users of the demo corporate.
var demoUsers = []core.NewUser{
	{UserDetails: core.UserDetails{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900002"}, Tag: "ops"}, Roles: []core.Role{core.RoleAccessManagement}},
	{UserDetails: core.UserDetails{Name: "Alan", Surname: "Turing", Email: "alan@acme.test", Tag: "finance"}, Roles: []core.Role{core.RoleFundsManagement}},
	{UserDetails: core.UserDetails{Name: "Katherine", Surname: "Johnson", Email: "katherine@acme.test", Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900004"}, Tag: "cards"}, Roles: []core.Role{core.RoleCardAssignee}},
	{UserDetails: core.UserDetails{Name: "Mary", Surname: "Jackson", Email: "mary@acme.test", Tag: "cards"}, Roles: []core.Role{core.RoleCardsManagement, core.RoleCardAssignee}},
}

// seedDemoUsers enrols the root user's SMS factor (which steps the session up)
// and creates the example users with it, exactly as an admin would.
func seedDemoUsers(ctx context.Context, svc *core.Service, prog *core.Programme, token string) error {
	caller, err := svc.Authenticate(ctx, prog, token)
	if err != nil {
		return err
	}
	if err := svc.EnrolSMS(ctx, caller); err != nil {
		return fmt.Errorf("seed root SMS factor: %w", err)
	}
	if err := svc.VerifyEnrolSMS(ctx, caller, core.SandboxCode); err != nil {
		return fmt.Errorf("seed root SMS factor: %w", err)
	}
	if caller, err = svc.Authenticate(ctx, prog, token); err != nil {
		return err
	}
	for _, u := range demoUsers {
		if _, err := svc.CreateUser(ctx, caller, u); err != nil {
			return fmt.Errorf("seed user %s: %w", u.Email, err)
		}
	}
	return svc.Logout(ctx, caller)
}

func printDemo(w io.Writer, url, dir string, c *demoCredentials) {
	fmt.Fprintf(w, `Deputy sandbox demo
  server     %s   (OpenAPI at %s/openapi.yaml)
  data       %s   (server.log, demo.db)
  api-key    %s   (secret: for curl and backends)
  ui-key     %s   (public: for the admin TUI and the companion)
  root user  %s / %s   (corporate %s)
  codes      every one-time code is 123456; messages land in GET %s/multi/sandbox/outbox

Try:
  curl -s -X POST %s/multi/login_with_password -H 'api-key: %s' -H 'Content-Type: application/json' \
    -d '{"email":"%s","password":{"value":"%s"}}'
  deputy admin --server %s --key %s
  deputy demo info   (prints this again, from another terminal)
`, url, url, dir, c.APIKey, c.UIKey, c.RootEmail, c.RootPassword, c.IdentityID, url, url, c.APIKey, c.RootEmail, c.RootPassword, url, c.UIKey)
}
