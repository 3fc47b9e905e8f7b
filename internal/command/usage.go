package command

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v3"
)

// version is the binary's module version and, when it was built from a
// checkout, the commit (with "+dirty" for uncommitted changes), from the
// build information Go embeds.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " (commit " + rev[:min(12, len(rev))] + dirty + ")"
	}
	return v
}

// withUsage makes every command of the tree answer a mistyped command or flag
// with one short error and a hint, instead of the whole help and the error twice.
func withUsage(cmd *cli.Command) *cli.Command {
	cmd.Suggest = true
	cmd.OnUsageError = usageError
	if len(cmd.Commands) > 0 && cmd.Action == nil {
		cmd.Action = unknownCommand
	}
	for _, sub := range cmd.Commands {
		withUsage(sub)
	}
	return cmd
}

// usageError is a command's answer to a flag it does not know or a missing
// required flag: the error, a suggestion when a flag is close, and where the
// help is.
func usageError(_ context.Context, cmd *cli.Command, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		msg = "unknown flag --" + name
		var names []string
		for _, f := range cmd.Flags {
			names = append(names, f.Names()...)
		}
		if s := closest(names, name); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
	}
	return fmt.Errorf("%s; see '%s --help'", msg, cmd.FullName())
}

// unknownCommand is the action of a command that only groups others: without
// arguments it shows its help; with one, that argument named no subcommand.
func unknownCommand(_ context.Context, cmd *cli.Command) error {
	if !cmd.Args().Present() {
		return cli.ShowSubcommandHelp(cmd)
	}
	name := cmd.Args().First()
	msg := fmt.Sprintf("unknown command %q", name)
	var names []string
	for _, c := range cmd.Commands {
		names = append(names, c.Name)
	}
	if s := closest(names, name); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s; see '%s --help'", msg, cmd.FullName())
}

// closest is the name typed was most likely meant to be: one it starts, or
// one at most two edits away; "" when none is that close.
func closest(names []string, typed string) string {
	best, bestDist := "", 3
	for _, n := range names {
		d := editDistance(n, typed)
		if len(typed) > 1 && strings.HasPrefix(n, typed) {
			d = 0
		}
		if d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// required marks a flag the command cannot do without: the parser insists
// on it and the help says so.
func required[T, C any, V cli.ValueCreator[T, C]](f *cli.FlagBase[T, C, V]) *cli.FlagBase[T, C, V] {
	f.Required = true
	f.Usage += " (required)"
	return f
}
