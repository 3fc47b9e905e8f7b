// Command withpg runs a command with a throwaway PostgreSQL server (see
// pgtest.Start) whose URL is in DEPUTY_TEST_PG_URL, and stops the server
// afterwards: `go run ./internal/pgtest/withpg go test ./...` runs every test
// package on one server instead of one per package.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/deputyhq/deputy/internal/pgtest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: withpg command [args...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

// run runs the command with the server, and returns its exit code.
func run(name string, args []string) int {
	s, err := pgtest.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "withpg: start PostgreSQL: %v\n", err)
		return 1
	}
	defer s.Stop()
	// The command gets the terminal's signals; withpg outlives it to stop the server.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pgtest.EnvURL+"="+s.URL)
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
		return 1
	}
	return 0
}
