// Command deputy is Deputy's single binary: the HTTP server, the admin
// terminal UI, the sandbox demo and the operator tools. Run `deputy --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/deputyhq/deputy/internal/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deputy:", err)
		os.Exit(1)
	}
}
