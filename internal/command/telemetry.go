package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/telemetry"
)

// telemetryFlags configure metrics (the admin listener) and traces (OTLP).
func telemetryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "admin-addr", Usage: "listen address of the admin listener serving Prometheus metrics at /metrics (off when not set; never the public --addr)", Sources: env("admin-addr")},
		&cli.StringFlag{Name: "otlp-endpoint", Usage: "base URL of an OTLP/HTTP collector (http://collector:4318) to export traces to (off when not set)",
			Sources: cli.EnvVars("DEPUTY_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")},
	}
}

// telemetryFrom builds the telemetry the flags ask for. It refuses an admin
// address equal to the public one: metrics are never served on the public port.
func telemetryFrom(ctx context.Context, cmd *cli.Command) (*telemetry.Telemetry, error) {
	admin := cmd.String("admin-addr")
	if admin != "" && sameAddr(admin, cmd.String("addr")) {
		return nil, fmt.Errorf("--admin-addr %s: the admin listener must not be the public --addr", admin)
	}
	return telemetry.New(ctx, telemetry.Config{Metrics: admin != "", OTLPEndpoint: cmd.String("otlp-endpoint"), Version: version()})
}

// sameAddr reports whether two listen addresses name the same port on the
// same host; port 0 (any free port) never clashes.
func sameAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	unspecified := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return pa == pb && pa != "0" && (ha == hb || unspecified(ha) || unspecified(hb))
}

// adminServer serves /metrics on its own listener, apart from the API.
type adminServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// startAdmin listens on addr and serves metrics there until stop. An address
// other machines reach is logged as a warning (adminBeyondLoopback).
func startAdmin(addr string, metrics http.Handler, log *slog.Logger) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --admin-addr %s: %w", addr, err)
	}
	if !onLoopback(ln.Addr().String()) {
		log.Warn(adminBeyondLoopback, slog.String("admin_addr", ln.Addr().String()))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	a := &adminServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { a.done <- a.srv.Serve(ln) }()
	return a, nil
}

// adminBeyondLoopback warns of an admin listener other machines reach: its
// /metrics answers anyone, without authentication or TLS, with the service's
// sign-in, lockout and step-up counts and its runtime's state.
const adminBeyondLoopback = "admin listener beyond this machine: /metrics answers anyone who reaches it, without authentication or TLS; " +
	"listen on loopback, or restrict the address to the scraper with a firewall"

// Addr is the address the admin listener got.
func (a *adminServer) Addr() string { return a.ln.Addr().String() }

// stop shuts the admin listener down.
func (a *adminServer) stop(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if serr := <-a.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
