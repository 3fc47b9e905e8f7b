package command

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/internal/control"
	"github.com/deputyhq/deputy/internal/storeopen"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server"
	"github.com/deputyhq/deputy/telemetry"
	"github.com/deputyhq/deputy/telemetry/otelstore"
	"github.com/deputyhq/deputy/webhook"
)

func serveCommand(ext Extensions) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the HTTP API server",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address", Sources: env("addr")},
			dbFlag("deputy.db"),
			&cli.BoolFlag{Name: "sandbox", Usage: "sandbox mode: every code is 123456, messages go to an outbox, the clock can be moved", Sources: env("sandbox")},
			&cli.DurationFlag{Name: "session-idle", Value: 5 * time.Minute, Usage: "end sessions after this long without activity", Sources: env("session-idle")},
			&cli.DurationFlag{Name: "session-lifetime", Value: 12 * time.Hour, Usage: "end sessions this long after their sign-in, however active", Sources: env("session-lifetime")},
			&cli.StringFlag{Name: "trusted-proxies", Usage: "comma-separated CIDRs (or addresses) of reverse proxies whose X-Forwarded-For is believed for per-client rate limits", Sources: env("trusted-proxies")},
			&cli.StringFlag{Name: "webauthn-rp-id", Value: "localhost", Usage: "WebAuthn relying party id of the companion's biometric credentials: the origins' host or a parent domain", Sources: env("webauthn-rp-id")},
			&cli.StringSliceFlag{Name: "webauthn-origin", Value: []string{"https://localhost"}, Usage: "origin the companion app acts for (repeat or comma-separate for several)", Sources: env("webauthn-origin")},
			&cli.StringFlag{Name: "public-url", Usage: "the URL users reach the service at (https://auth.bank.example): its host ends texted codes as \"@host #code\" so that phones offer them only there (WebOTP); localhost when not set", Sources: env("public-url")},
		}, slices.Concat(tlsFlags(), senderFlags(), kycFlags(), pushFlags(), auditFlags(), logFlags(), telemetryFlags())...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			defer password.TuneGC(password.DefaultMemoryLimit)() // sign-ins hash; keep the collector out of their way
			log, err := newLogger(stderrOr(cmd.Root().ErrWriter), cmd.String("log-format"), cmd.String("log-level"))
			if err != nil {
				return err
			}
			log = slog.New(telemetry.LogHandler(log.Handler()))
			tel, err := telemetryFrom(ctx, cmd)
			if err != nil {
				return err
			}
			defer func() {
				shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := tel.Shutdown(shutdownCtx); err != nil {
					log.Warn("telemetry shutdown", slog.String("error", err.Error()))
				}
			}()
			email, sms, err := sendersFrom(cmd)
			if err != nil {
				return err
			}
			kyc, kycSecret, err := kycFrom(cmd)
			if err != nil {
				return err
			}
			tlsConfig, err := tlsFrom(cmd)
			if err != nil {
				return err
			}
			proxies, err := parsePrefixes(cmd.String("trusted-proxies"))
			if err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			originHost, err := publicHost(cmd.String("public-url"))
			if err != nil {
				return fmt.Errorf("--public-url: %w", err)
			}
			audit, err := auditFrom(cmd, log)
			if err != nil {
				return err
			}
			push, err := pushRelayFrom(ctx, cmd, ext, log)
			if err != nil {
				return err
			}
			cfg := instanceConfig{
				Audit:           audit,
				DB:              cmd.String("db"),
				Sandbox:         cmd.Bool("sandbox"),
				SessionIdle:     cmd.Duration("session-idle"),
				SessionLifetime: cmd.Duration("session-lifetime"),
				TrustedProxies:  proxies,
				WebAuthnRPID:    cmd.String("webauthn-rp-id"),
				WebAuthnOrigins: cmd.StringSlice("webauthn-origin"),
				OriginHost:      originHost,
				Email:           email,
				SMS:             sms,
				KYC:             kyc,
				KYCSecret:       kycSecret,
				Push:            push,
				Log:             log,
				Telemetry:       tel,
			}
			inst, err := openInstance(ctx, cfg)
			if err != nil {
				return err
			}
			defer inst.Close()
			ln, err := net.Listen("tcp", cmd.String("addr"))
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cmd.String("addr"), err)
			}
			beyond := !onLoopback(ln.Addr().String())
			if tlsConfig != nil {
				ln = tls.NewListener(ln, tlsConfig)
			} else if !cfg.Sandbox && beyond {
				log.Warn("serving plain HTTP beyond this machine: tokens and passwords cross the network in the clear; give --tls-cert and --tls-key, or put a TLS-terminating proxy in front")
			}
			if cfg.Sandbox && beyond {
				log.Warn(sandboxBeyondLoopback)
			}
			for _, flag := range []string{"sms-gateway-url", "kyc-webhook-url"} {
				if plainBeyondLoopback(cmd.String(flag)) {
					log.Warn("--" + flag + " is plain HTTP beyond this machine: what Deputy sends there (codes, personal details, credentials) crosses the network in the clear; use https")
				}
			}
			attrs := []any{slog.String("addr", ln.Addr().String()), slog.String("db", storeopen.Redacted(cfg.DB)), slog.Bool("sandbox", cfg.Sandbox),
				slog.Bool("tls", tlsConfig != nil), slog.Any("trusted_proxies", cfg.TrustedProxies), slog.Bool("push_relay", cfg.Push != nil)}
			stopControl, err := inst.serveControl(ctx, cfg.DB, log)
			if err != nil {
				ln.Close()
				return err
			}
			defer stopControl()
			if inst.file != nil {
				attrs = append(attrs, slog.String("control_socket", control.SocketPath(cfg.DB)))
			}
			if h := tel.MetricsHandler(); h != nil {
				admin, err := startAdmin(cmd.String("admin-addr"), h, log)
				if err != nil {
					ln.Close()
					return err
				}
				defer func() { _ = admin.stop(context.WithoutCancel(ctx)) }()
				attrs = append(attrs, slog.String("admin_addr", admin.Addr()))
			}
			log.Info("deputy serving", append(attrs, slog.String("otlp_endpoint", cmd.String("otlp-endpoint")))...)
			return inst.Serve(ctx, ln)
		},
	}
}

// sandboxBeyondLoopback warns of sandbox mode that other machines reach:
// anyone who reaches it passes every one-time code.
const sandboxBeyondLoopback = "sandbox mode beyond this machine: every one-time code is 123456 and the clock can be moved, " +
	"for anyone who reaches this address; listen on loopback unless that is meant (a shared test environment)"

// instanceConfig is what it takes to run one Deputy server.
type instanceConfig struct {
	DB              string
	Sandbox         bool
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the
	// client (server.Options.TrustedProxies).
	TrustedProxies []netip.Prefix
	// WebAuthnRPID and WebAuthnOrigins scope the companion's credentials
	// (core.Config); empty means core's defaults.
	WebAuthnRPID    string
	WebAuthnOrigins []string
	// OriginHost is the host of the public URL, which ends texted codes
	// (core.Config.OriginHost); empty means core's default.
	OriginHost string
	// Email and SMS deliver messages outside sandbox mode, where both are
	// required; the sandbox keeps its messages in the outbox instead.
	Email core.EmailSender
	SMS   core.SMSSender
	// KYC checks authorised users, and KYCSecret verifies its decisions; in
	// sandbox mode the sandbox provider stands in when KYC is nil.
	KYC       core.KYCProvider
	KYCSecret []byte
	// Push relays push events to FCM and APNs outside sandbox mode; nil
	// for none.
	Push core.PushRelay
	// Audit signs the audit log's checkpoints; the zero value signs none.
	Audit auditConfig
	Log   *slog.Logger
	// Telemetry measures and traces the store, the service and every
	// request; nil for none.
	Telemetry *telemetry.Telemetry
}

// publicHost returns the host of the public URL ("" for none): an absolute
// http(s) URL naming a domain, whose host WebOTP binds texted codes to.
func publicHost(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return "", errors.New("the URL must not carry a user name or password") // which would be repeated here
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL such as https://auth.bank.example", raw)
	}
	host := strings.ToLower(u.Hostname())
	if _, err := netip.ParseAddr(host); err == nil {
		return "", fmt.Errorf("%q names an address, not a domain: texted codes can only be bound to a domain", raw)
	}
	return host, nil
}

// parsePrefixes reads a comma-separated list of CIDRs; a bare address stands
// for itself alone (/32 or /128).
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// instance is an open store, service and HTTP handler.
type instance struct {
	store   core.Store
	file    *boltstore.Store // the store when it is a bbolt file, nil on PostgreSQL
	svc     *core.Service
	handler http.Handler // the API, instrumented when telemetry is on
	log     *slog.Logger
}

// openInstance opens the database and builds the service and its HTTP handler.
func openInstance(ctx context.Context, cfg instanceConfig) (*instance, error) {
	if !cfg.Sandbox && (cfg.Email == nil || cfg.SMS == nil) {
		return nil, errNoSenders(cfg.Email, cfg.SMS)
	}
	opened, err := storeopen.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	store, obs, err := instrument(opened, cfg.Telemetry)
	if err != nil {
		opened.Close()
		return nil, err
	}
	var (
		clock    core.Clock = core.SystemClock{}
		sandbox  *core.OffsetClock
		delivery = core.Integrations{Email: cfg.Email, SMS: cfg.SMS, KYC: cfg.KYC, Push: cfg.Push}
		hooks    = webhook.NewSender(webhook.DefaultTimeout, "Deputy-Webhooks/1")
	)
	if cfg.Sandbox {
		if cfg.Email != nil || cfg.SMS != nil {
			cfg.Log.Warn("sandbox mode keeps messages in the outbox: the --smtp-* and --sms-* settings are not used")
		}
		sandbox = core.NewOffsetClock(nil)
		outbox := core.NewOutbox(store, sandbox)
		clock, delivery = sandbox, core.Integrations{SMS: outbox, Email: outbox, KYC: cfg.KYC}
		if cfg.KYC == nil {
			delivery.KYC = core.SandboxKYC{}
		}
	}
	delivery.Webhooks = hooks
	if bus, ok := opened.(core.PushBus); ok { // replicas on one database wake each other's push streams
		delivery.Bus = bus
	}
	if presence, ok := opened.(core.DevicePresence); ok { // see each other's phones connected
		delivery.Presence = presence
	}
	if leader, ok := opened.(core.Leader); ok { // and sweep and checkpoint one at a time
		delivery.Leader = leader
	}
	svc, err := core.New(ctx, core.Config{Sandbox: cfg.Sandbox, SessionIdle: cfg.SessionIdle, SessionLifetime: cfg.SessionLifetime, Logger: cfg.Log,
		WebAuthnRPID: cfg.WebAuthnRPID, WebAuthnOrigins: cfg.WebAuthnOrigins, OriginHost: cfg.OriginHost, Observer: obs,
		AuditSigner: cfg.Audit.Signer, AuditVerifier: cfg.Audit.Verifier, AuditCheckpointEvents: cfg.Audit.Events, AuditCheckpointInterval: cfg.Audit.Interval},
		store, delivery, clock)
	if err != nil {
		opened.Close()
		return nil, err
	}
	srv, err := server.New(svc, server.Options{Logger: cfg.Log, Clock: sandbox, TrustedProxies: cfg.TrustedProxies, KYCCallbackSecret: cfg.KYCSecret})
	if err != nil {
		opened.Close()
		return nil, err
	}
	var h http.Handler = srv
	if cfg.Telemetry != nil {
		h = cfg.Telemetry.HTTPHandler(srv)
	}
	file, _ := opened.(*boltstore.Store)
	return &instance{store: opened, file: file, svc: svc, handler: h, log: cfg.Log}, nil
}

// instrument wraps the store in tel's spans and metrics and returns the
// observer of the service's domain events; without tel, the store as it is
// and no observer.
func instrument(store core.Store, tel *telemetry.Telemetry) (core.Store, core.Observer, error) {
	if tel == nil {
		return store, nil, nil
	}
	wrapped, err := otelstore.Wrap(store, tel.Tracer, tel.Meter)
	if err != nil {
		return nil, nil, err
	}
	obs, err := tel.Observer()
	return wrapped, obs, err
}

// sealTimeout bounds the last audit checkpoint of a stopping server.
const sealTimeout = 10 * time.Second

// Close signs the audit events no checkpoint covers yet (core.SealAudit),
// so that an export taken after a stop verifies whole, and closes the
// database. It runs after the HTTP server, its background loops and the
// control socket have stopped, whatever way they stopped.
func (i *instance) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), sealTimeout)
	defer cancel()
	if _, err := i.svc.SealAudit(ctx); err != nil {
		i.log.Error("audit checkpoint at shutdown", slog.String("error", err.Error()))
	}
	return i.store.Close()
}

// serveControl serves operator commands on the control socket of db while
// the instance holds a bbolt file (one process's: `deputy programme ...`
// reaches it only through this socket); on PostgreSQL they open the database
// themselves and there is none. stop closes it.
func (i *instance) serveControl(ctx context.Context, db string, log *slog.Logger) (stop func(), err error) {
	if i.file == nil {
		return func() {}, nil
	}
	ctl, err := control.Listen(db)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := control.Serve(ctx, ctl, i.svc, i.file); err != nil {
			log.Error("control socket", slog.String("error", err.Error()))
		}
	}()
	return func() { cancel(); <-done }, nil
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully.
func (i *instance) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           i.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A client that stops reading an answer cannot hold its handler for
		// ever; the longest ordinary answer, a long poll, waits 25 seconds.
		// Push streams set a limit of their own on each event.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(i.log.Handler(), slog.LevelWarn),
	}
	// Push event streams stay open; Shutdown would wait for them.
	srv.RegisterOnShutdown(i.svc.StopPush)
	// Emails sent in the background after a request was answered still go out.
	defer i.svc.WaitForMail()
	// The background loops end before Serve returns: nothing they write
	// comes after the last audit checkpoint (Close).
	var loops sync.WaitGroup
	defer loops.Wait()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	loops.Go(func() { i.sweep(sweepCtx) })
	loops.Go(func() { i.svc.RunAuditCheckpoints(sweepCtx, auditCheckpointTick) })
	loops.Go(func() { i.svc.RunWebhookDelivery(sweepCtx, core.WebhookTick) })
	loops.Go(func() { i.svc.RunBulks(sweepCtx, bulkTick) })
	loops.Go(func() { i.svc.RunPushBus(sweepCtx) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	i.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweep removes what has expired once a minute (core.Service.Sweep).
func (i *instance) sweep(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := i.svc.Sweep(ctx); err != nil && ctx.Err() == nil {
				i.log.Error("sweep", slog.String("error", err.Error()))
			}
		}
	}
}

// bulkTick is how often a server looks for bulks that another replica
// executed or a restart interrupted; its own run at once.
const bulkTick = time.Second
