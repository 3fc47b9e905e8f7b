package command

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeBannerRE finds the demo's banner in README.md and the values it shows.
var readmeBannerRE = regexp.MustCompile("(?s)```\n(Deputy sandbox demo\n" +
	`  server     (\S+)   .*?\n` +
	`  data       (\S+)   .*?\n` +
	`  api-key    (\S+)   .*?\n` +
	`  ui-key     (\S+)   .*?\n` +
	`  root user  (\S+) / (\S+)   \(corporate (\S+)\)\n` +
	".*?)```\n")

// TestREADMEDemoBanner checks that README.md shows the demo's banner exactly
// as the demo prints it, for the values the README shows.
func TestREADMEDemoBanner(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := readmeBannerRE.FindSubmatch(readme)
	require.NotNil(t, m, "README.md shows no demo banner")
	var want bytes.Buffer
	printDemo(&want, string(m[2]), string(m[3]), &demoCredentials{
		APIKey: string(m[4]), UIKey: string(m[5]), RootEmail: string(m[6]), RootPassword: string(m[7]), IdentityID: string(m[8]),
	})
	require.Equal(t, want.String(), string(m[1]), "the banner in README.md")
	require.Equal(t, demoPassword, string(m[7]), "the root user's password in README.md")
	require.True(t, strings.HasPrefix(string(m[6]), "ada@"), "the root user in README.md")
}
