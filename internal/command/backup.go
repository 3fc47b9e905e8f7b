package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/control"
	"github.com/deputyhq/deputy/internal/storeopen"
)

// backupCommand copies the database consistently, while a server runs on it
// (through its control socket) or not.
func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "write a consistent copy of the database, also while `deputy serve` runs on it",
		Flags: []cli.Flag{
			dbFlag("deputy.db"),
			required(&cli.StringFlag{Name: "out", Usage: "the file to write; it must not exist yet"}),
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			db, out := cmd.String("db"), cmd.String("out")
			via, size, err := backup(ctx, db, out)
			if err != nil {
				return err
			}
			w := cmd.Root().Writer
			if cmd.Bool("json") {
				return json.NewEncoder(w).Encode(map[string]any{"db": db, "out": out, "bytes": size, "via": via})
			}
			_, err = fmt.Fprintf(w, "Backed up %s (%s) to %s: %d bytes, checked.\n", db, via, out, size)
			return err
		},
	}
}

// backup writes the database at db to out and checks the copy. via says how:
// "running server" or "file".
func backup(ctx context.Context, db, out string) (via string, size int64, err error) {
	if storeopen.IsPostgres(db) {
		return "", 0, errors.New("--db is a PostgreSQL database: back it up with PostgreSQL's own tools, " +
			"for example pg_dump --format=custom --file=deputy.dump followed by the database URL")
	}
	if _, err := os.Stat(out); err == nil {
		return "", 0, fmt.Errorf("--out %s exists already: choose a new file", out)
	}
	if _, err := os.Stat(db); err != nil {
		return "", 0, fmt.Errorf("--db: %w", err)
	}
	copyTo := func(w io.Writer) (int64, error) {
		if c, err := control.Dial(ctx, db); err == nil {
			via = "running server"
			return c.Backup(ctx, w)
		}
		via = "file"
		return boltstore.BackupFile(ctx, db, w)
	}
	if size, err = writeAtomically(out, copyTo); err != nil {
		return "", 0, err
	}
	if err := boltstore.Check(out); err != nil {
		return "", 0, errors.Join(fmt.Errorf("the copy does not check: %w", err), os.Remove(out))
	}
	return via, size, nil
}

// writeAtomically writes path through write: into a temporary file beside it,
// synced to disk, then linked to path, so that path is either whole or absent.
// It never replaces a file: one that appeared at path meanwhile (a second
// backup or export to the same --out, a second server creating the same audit
// key) is kept and the write fails with an error matching os.ErrExist. A
// rename would have replaced it, after its callers' check that path was
// free; only a file system without hard links falls back to the rename.
func writeAtomically(path string, write func(io.Writer) (int64, error)) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".partial-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
		if err != nil && !errors.Is(err, os.ErrExist) {
			if _, serr := os.Lstat(path); errors.Is(serr, os.ErrNotExist) {
				if err = os.Rename(tmp, path); err == nil { // a file system without hard links
					return n, nil
				}
			}
		}
	}
	if err != nil {
		return 0, errors.Join(err, os.Remove(tmp))
	}
	return n, os.Remove(tmp)
}
