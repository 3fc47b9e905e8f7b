package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/mod/sumdb/note"

	"github.com/deputyhq/deputy/auditlog"
	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/storeopen"
)

// auditKeyName names the audit signing key in its checkpoints' signatures.
const auditKeyName = "deputy-audit"

// auditFlags configure the signing of audit checkpoints by `deputy serve`.
func auditFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "audit-key", Usage: "file of the Ed25519 key that signs audit checkpoints, created when missing (default: the --db path + \".audit-key\"); keep a copy away from the database", Sources: env("audit-key")},
		&cli.IntFlag{Name: "audit-checkpoint-events", Value: core.DefaultAuditCheckpointEvents, Usage: "sign an audit checkpoint after this many new events", Sources: env("audit-checkpoint-events")},
		&cli.DurationFlag{Name: "audit-checkpoint-interval", Value: core.DefaultAuditCheckpointInterval, Usage: "sign an audit checkpoint of new events once the last one is this old", Sources: env("audit-checkpoint-interval")},
	}
}

// auditConfig is how `deputy serve` signs audit checkpoints (core.Config).
type auditConfig struct {
	Signer   note.Signer
	Verifier note.Verifier // Signer's
	Events   int
	Interval time.Duration
}

// auditCheckpointTick is how often a server looks for a checkpoint that is due.
const auditCheckpointTick = time.Second

// auditFrom reads the audit flags, loading or creating the signing key.
func auditFrom(cmd *cli.Command, log *slog.Logger) (auditConfig, error) {
	events, interval := cmd.Int("audit-checkpoint-events"), cmd.Duration("audit-checkpoint-interval")
	if events < 1 {
		return auditConfig{}, errors.New("--audit-checkpoint-events must be at least 1")
	}
	if interval < time.Second {
		return auditConfig{}, errors.New("--audit-checkpoint-interval must be at least 1s")
	}
	path, err := auditKeyPath(cmd)
	if err != nil {
		return auditConfig{}, err
	}
	s, v, err := loadAuditSigner(path, log)
	return auditConfig{Signer: s, Verifier: v, Events: events, Interval: interval}, err
}

// auditKeyPath is --audit-key, or the default beside a database file.
func auditKeyPath(cmd *cli.Command) (string, error) {
	if p := cmd.String("audit-key"); p != "" {
		return p, nil
	}
	db := cmd.String("db")
	if storeopen.IsPostgres(db) {
		return "", errors.New("--audit-key is needed with a database URL: give a key file every replica reads")
	}
	return db + ".audit-key", nil
}

// loadAuditSigner reads the signing key at path, creating it (mode 0600) when
// the file does not exist, and logs its verifier key. It refuses a key file
// that others than its owner may read, as ssh does.
func loadAuditSigner(path string, log *slog.Logger) (note.Signer, note.Verifier, error) {
	data, err := readPrivateFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, _, err := auditlog.NewKey(auditKeyName)
		if err != nil {
			return nil, nil, err
		}
		if _, err := writeAtomically(path, func(w io.Writer) (int64, error) {
			n, err := io.WriteString(w, skey+"\n")
			return int64(n), err
		}); err != nil {
			return nil, nil, fmt.Errorf("--audit-key: %w", err)
		}
		data = []byte(skey)
		log.Info("created the audit signing key", slog.String("file", path))
	} else if err != nil {
		return nil, nil, fmt.Errorf("--audit-key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-key %s: not a signing key", path)
	}
	vkey, err := auditlog.VerifierOf(string(data))
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-key %s: %w", path, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-key %s: %w", path, err)
	}
	log.Info("audit checkpoints are signed; verify exports with this key", slog.String("audit_verifier_key", vkey))
	return s, v, nil
}

// readPrivateFile reads a file that only its owner may read. The mode is
// that of the file opened, so a file swapped in after the check is not read.
func readPrivateFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is open to others (mode %04o): chmod 600 it", path, perm)
	}
	return io.ReadAll(f)
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "export the tamper-evident audit log and verify an export offline",
		Commands: []*cli.Command{
			{
				Name:  "key",
				Usage: "print the verifier key of the audit signing key (public: give it to whoever verifies)",
				Flags: []cli.Flag{dbFlag("deputy.db"), auditFlags()[0]},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					path, err := auditKeyPath(cmd)
					if err != nil {
						return err
					}
					data, err := readPrivateFile(path)
					if err != nil {
						return fmt.Errorf("--audit-key: %w", err)
					}
					vkey, err := auditlog.VerifierOf(string(data))
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(cmd.Root().Writer, vkey)
					return err
				},
			},
			{
				Name:  "export",
				Usage: "write a programme's audit events, checkpoints and proofs to a file, also while `deputy serve` runs",
				Flags: []cli.Flag{
					dbFlag("deputy.db"),
					required(&cli.StringFlag{Name: "id", Usage: "programme id"}),
					required(&cli.StringFlag{Name: "out", Usage: "the file to write; it must not exist yet"}),
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					out := cmd.String("out")
					if _, err := os.Stat(out); err == nil {
						return fmt.Errorf("--out %s exists already: choose a new file", out)
					}
					ops, done, err := openOperations(ctx, cmd.String("db"), false)
					if err != nil {
						return err
					}
					defer done()
					n, err := writeAtomically(out, func(w io.Writer) (int64, error) {
						cw := &countingWriter{w: w}
						err := ops.ExportAudit(ctx, cmd.String("id"), cw)
						return cw.n, err
					})
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(cmd.Root().Writer, "Exported the audit log of programme %s to %s (%d bytes).\n", cmd.String("id"), out, n)
					return err
				},
			},
			{
				Name:  "verify",
				Usage: "check an export with the verifier key alone: any changed, inserted, reordered or deleted event fails",
				Flags: []cli.Flag{
					required(&cli.StringFlag{Name: "in", Usage: "the export file"}),
					required(&cli.StringFlag{Name: "key", Usage: "the verifier key (from deputy audit key, or the server's log)"}),
					&cli.StringFlag{Name: "id", Usage: "the programme whose log the export must be (default: whichever it says)"},
					&cli.StringSliceFlag{Name: "checkpoint", Usage: "a file holding a checkpoint saved earlier (from the server's log); repeat for several"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					v, err := note.NewVerifier(strings.TrimSpace(cmd.String("key")))
					if err != nil {
						return fmt.Errorf("--key: not a verifier key: %w", err)
					}
					var saved [][]byte
					for _, path := range cmd.StringSlice("checkpoint") {
						b, err := os.ReadFile(path)
						if err != nil {
							return fmt.Errorf("--checkpoint: %w", err)
						}
						saved = append(saved, b)
					}
					f, err := os.Open(cmd.String("in"))
					if err != nil {
						return fmt.Errorf("--in: %w", err)
					}
					defer f.Close()
					var origin string
					if id := cmd.String("id"); id != "" {
						origin = auditlog.Origin(id)
					}
					rep, err := auditlog.Verify(f, v, origin, saved)
					if err != nil {
						return err
					}
					w := cmd.Root().Writer
					if cmd.Bool("json") {
						return json.NewEncoder(w).Encode(map[string]any{"origin": rep.Origin, "events": rep.Events, "checkpoints": rep.Checkpoints, "covered": rep.Covered})
					}
					_, err = fmt.Fprintf(w, "Verified %s: %d events; %d signed checkpoints match, the largest covers %d events (%d after it are not signed yet).\n",
						rep.Origin, rep.Events, rep.Checkpoints, rep.Covered, rep.Events-rep.Covered)
					return err
				},
			},
		},
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
