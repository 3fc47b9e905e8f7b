// Package command is the deputy binary's command line: one subcommand per
// job (serve, programme, demo ...), every flag also read from a DEPUTY_*
// environment variable.
package command

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/internal/escape"
)

// Run executes the deputy command line with args (os.Args) and returns its
// error, without Extensions.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return RunWith(ctx, Extensions{}, args, stdout, stderr)
}

// RunWith is Run with the binary's Extensions.
func RunWith(ctx context.Context, ext Extensions, args []string, stdout, stderr io.Writer) error {
	root := withUsage(&cli.Command{
		Name:      "deputy",
		Usage:     "authorised users and strong customer authentication for embedded finance",
		Version:   version(),
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors come back to main, which prints them once.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands: []*cli.Command{
			serveCommand(ext),
			programmeCommand(),
			demoCommand(),
			adminCommand(),
			companionCommand(),
			backupCommand(),
			storeCommand(),
			auditCommand(),
		},
	})
	return root.Run(ctx, args)
}

// env names the environment variable that also sets a flag.
func env(flag string) cli.ValueSourceChain {
	return cli.EnvVars("DEPUTY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_")))
}

// dbFlag is the database path flag shared by commands that open the store.
func dbFlag(def string) *cli.StringFlag {
	return &cli.StringFlag{Name: "db", Value: def, Usage: "path of the bbolt database file, or a postgres:// URL of a PostgreSQL database (pool size: its pool_max_conns parameter)", Sources: env("db")}
}

// newLogger builds the structured logger from --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		opts.ReplaceAttr = escapeAttr
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want json or text", format)
	}
}

// escapeAttr escapes what does not print in a string or error attribute:
// JSON keeps C1 controls and bidi overrides as they are, and a terminal
// following the log would act on them. The text format quotes them already.
func escapeAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		a.Value = slog.StringValue(escape.ForJSON(v))
	case error:
		a.Value = slog.StringValue(escape.ForJSON(v.Error()))
	}
	return a
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json", Sources: env("log-format")},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn or error", Sources: env("log-level")},
	}
}

// stderrOr returns w, or os.Stderr when w is nil.
func stderrOr(w io.Writer) io.Writer {
	if w == nil {
		return os.Stderr
	}
	return w
}
