package command_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/command"
)

// runCLI runs the command line and returns what it wrote to each stream.
func runCLI(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = command.Run(context.Background(), append([]string{"deputy"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	stdout, _, err := runCLI("--version")
	require.NoError(t, err)
	assert.Regexp(t, `^deputy version \S+`, stdout)
}

// TestMistypedCommandsAndFlags: one short error with a hint, no help dump,
// and nothing printed twice (main prints the returned error once).
func TestMistypedCommandsAndFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `unknown command "serv" (did you mean "serve"?); see 'deputy --help'`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; see 'deputy --help'`},
		{[]string{"programme", "rotate"}, `unknown command "rotate" (did you mean "rotate-key"?); see 'deputy programme --help'`},
		{[]string{"serve", "--sandbx"}, `unknown flag --sandbx (did you mean --sandbox?); see 'deputy serve --help'`},
		{[]string{"programme", "settings", "--db", "x.db"}, `Required flag "id" not set; see 'deputy programme settings --help'`},
	} {
		stdout, stderr, err := runCLI(c.args...)
		require.Error(t, err, "%v", c.args)
		assert.Equal(t, c.want, err.Error(), "%v", c.args)
		assert.Empty(t, stdout, "%v: no help dump", c.args)
		assert.Empty(t, stderr, "%v: the error is returned, not printed as well", c.args)
	}
}

func TestHelpMarksRequiredFlags(t *testing.T) {
	stdout, _, err := runCLI("programme", "rotate-key", "--help")
	require.NoError(t, err)
	assert.Regexp(t, `--id string\s+programme id \(required\)`, stdout)
	assert.Regexp(t, `--key string\s+which key: secret or ui \(required\)`, stdout)
	assert.NotRegexp(t, `--grace .*\(required\)`, stdout)
}

// TestHelpShowsFlagTypes: a backquoted word in a flag's usage would replace
// its type in the help (urfave/cli's placeholder), so none has one.
func TestHelpShowsFlagTypes(t *testing.T) {
	stdout, _, err := runCLI("audit", "verify", "--help")
	require.NoError(t, err)
	assert.Regexp(t, `--key string\s+the verifier key`, stdout)
	stdout, _, err = runCLI("demo", "--help")
	require.NoError(t, err)
	assert.Contains(t, stdout, "config directory", "the demo's default directory is the config one, as demoDirPath picks")
}

func TestGroupWithoutSubcommandShowsItsHelp(t *testing.T) {
	stdout, _, err := runCLI("programme")
	require.NoError(t, err)
	assert.Contains(t, stdout, "rotate-key")
}
