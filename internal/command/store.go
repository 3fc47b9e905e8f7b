package command

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/storecopy"
	"github.com/deputyhq/deputy/internal/storeopen"
)

// storeCommand moves an installation between stores.
func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "move an installation between stores",
		Commands: []*cli.Command{
			{
				Name: "copy",
				Usage: "copy every record of a stopped installation into an empty PostgreSQL database, " +
					"checking each kind's count and checksum before committing",
				Flags: []cli.Flag{
					required(&cli.StringFlag{Name: "from", Usage: "the bbolt database file (no server may run on it) or a postgres:// URL (better: DEPUTY_COPY_FROM, when it holds a password)", Sources: env("copy-from")}),
					required(&cli.StringFlag{Name: "to", Usage: "the postgres:// URL of an empty database (created with createdb; the schema is made here; better: DEPUTY_COPY_TO, when it holds a password)", Sources: env("copy-to")}),
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					from, to := cmd.String("from"), cmd.String("to")
					kinds, err := copyStore(ctx, from, to)
					if kinds == nil {
						return err
					}
					if perr := printCopy(cmd.Root().Writer, storeopen.Redacted(from), storeopen.Redacted(to), kinds, cmd.Bool("json")); perr != nil {
						return errors.Join(err, perr)
					}
					return err
				},
			},
		},
	}
}

// copyStore copies the store from names into the one to names. The kinds
// come back whenever the copy got as far as comparing them.
func copyStore(ctx context.Context, from, to string) ([]storecopy.Kind, error) {
	if !storeopen.IsPostgres(to) {
		return nil, errors.New("--to must be a postgres:// URL: a copy goes into PostgreSQL")
	}
	if from == to {
		return nil, errors.New("--from and --to name the same database")
	}
	var err error
	if !storeopen.IsPostgres(from) {
		// bbolt panics on damaged pages: check them all before reading any.
		if _, err = os.Stat(from); err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		err = boltstore.Check(from)
	}
	var source core.Store
	if err == nil {
		source, err = storeopen.Open(ctx, from)
	}
	var inUse *boltstore.InUseError
	if errors.As(err, &inUse) {
		return nil, fmt.Errorf("--from: %w: stop every `deputy serve` on it first, so that nothing changes after the copy", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--from %s: %w", storeopen.Redacted(from), err)
	}
	defer source.Close()
	target, err := storeopen.Open(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("--to %s: %w", storeopen.Redacted(to), err)
	}
	defer target.Close()
	exporter, ok := source.(core.Exporter)
	if !ok {
		return nil, fmt.Errorf("--from %s: this store cannot be read out whole", storeopen.Redacted(from))
	}
	importer, ok := target.(core.Importer)
	if !ok {
		return nil, fmt.Errorf("--to %s: this store cannot be filled whole", storeopen.Redacted(to))
	}
	kinds, err := storecopy.Copy(ctx, exporter, importer)
	switch {
	case errors.Is(err, core.ErrNotEmpty):
		return nil, fmt.Errorf("--to %s: %w: a copy goes into an empty database only (create a new one with createdb)", storeopen.Redacted(to), err)
	case errors.Is(err, storecopy.ErrMismatch):
		return kinds, fmt.Errorf("%w: nothing was committed, %s is as empty as before", err, storeopen.Redacted(to))
	case err != nil:
		return nil, fmt.Errorf("copy: %w (nothing was committed)", err)
	}
	return kinds, nil
}

// printCopy prints the comparison: a table, or JSON.
func printCopy(w io.Writer, from, to string, kinds []storecopy.Kind, asJSON bool) error {
	short := func(t storecopy.Tally) string {
		if t.Count == 0 {
			return "-"
		}
		return hex.EncodeToString(t.Sum[:8])
	}
	records, ok := 0, true
	for _, k := range kinds {
		records += k.Source.Count
		ok = ok && k.OK()
	}
	if asJSON {
		type kind struct {
			Kind           core.RecordKind `json:"kind"`
			Count          int             `json:"count"`
			Checksum       string          `json:"checksum"`
			TargetCount    int             `json:"targetCount"`
			TargetChecksum string          `json:"targetChecksum"`
			OK             bool            `json:"ok"`
		}
		out := struct {
			From    string `json:"from"`
			To      string `json:"to"`
			Records int    `json:"records"`
			OK      bool   `json:"ok"`
			Kinds   []kind `json:"kinds"`
		}{From: from, To: to, Records: records, OK: ok}
		for _, k := range kinds {
			out.Kinds = append(out.Kinds, kind{k.Kind, k.Source.Count, hex.EncodeToString(k.Source.Sum[:]),
				k.Target.Count, hex.EncodeToString(k.Target.Sum[:]), k.OK()})
		}
		return json.NewEncoder(w).Encode(out)
	}
	fmt.Fprintf(w, "%-24s %9s  %-16s  %s\n", "kind", "count", "checksum", "ok")
	for _, k := range kinds {
		if k.OK() {
			fmt.Fprintf(w, "%-24s %9d  %-16s  ok\n", k.Kind, k.Source.Count, short(k.Source))
		} else {
			fmt.Fprintf(w, "%-24s %9s  %-16s  MISMATCH: the target holds %d, checksum %s\n",
				k.Kind, fmt.Sprint(k.Source.Count), short(k.Source), k.Target.Count, short(k.Target))
		}
	}
	if !ok {
		_, err := fmt.Fprintf(w, "The copy of %s in %s does not match it: not committed.\n", from, to)
		return err
	}
	_, err := fmt.Fprintf(w, "Copied %d records of %d kinds from %s to %s: every count and checksum read back matches.\n",
		records, len(kinds), from, to)
	return err
}
