// Command deputy is Deputy's single binary: the HTTP server, the admin
// terminal UI, the sandbox demo and the operator tools. Run `deputy --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/command"
	"github.com/deputyhq/deputy/internal/pushrelay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The push relays link the Firebase SDK, which internal/command's tests
	// need not compile.
	relays := func(ctx context.Context, c command.PushConfig) (core.PushRelay, error) {
		return pushrelay.New(ctx, pushrelay.Config(c))
	}
	err := command.RunWith(ctx, command.Extensions{PushRelays: relays}, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deputy:", err)
		os.Exit(1)
	}
}
