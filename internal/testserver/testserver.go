// Package testserver starts a complete Deputy for tests and benchmarks: a real
// bbolt file in a temporary directory (or a PostgreSQL database, see
// internal/teststore), the core service in sandbox mode and the
// HTTP API on a loopback port, with one programme created. The server, client,
// TUI and companion tests all drive it over real HTTP.
package testserver

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server"
)

// FastPasswords keeps argon2id cheap for tests; benchmarks that measure
// password work pass password.DefaultParams instead.
var FastPasswords = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Instance is a running Deputy.
type Instance struct {
	URL       string
	Service   *core.Service
	Store     core.Store
	Clock     *core.OffsetClock
	Logs      *SyncBuffer
	APIKey    string // the secret api key
	UIKey     string // the public ui key
	Programme *core.Programme
	opts      Options // what Replica starts another with
}

// Options tune an Instance.
type Options struct {
	// Config is the core configuration; Sandbox, Logger and, when zero,
	// PasswordParams (FastPasswords) and RateLimits (none) are filled in.
	Config core.Config
	// Server options beyond the clock. Without a Logger the server logs to
	// the Instance's Logs, as the service does.
	Server server.Options
	// Programme is the programme to create (default name "Test Programme").
	Programme core.NewProgramme
	// NotSandbox runs the service outside sandbox mode, with an Outbox still
	// standing in for the carriers.
	NotSandbox bool
	// WrapStore, when set, wraps the store the service uses, for tests that
	// watch or break its transactions; the Instance's Store stays the bare one.
	WrapStore func(core.Store) core.Store
	// Push is the push relay (core.Integrations.Push); nil for none.
	Push core.PushRelay
	// PoolSize caps each replica's PostgreSQL pool (0: pgstore's default).
	PoolSize int32
}

// Start runs an Instance until the test ends.
func Start(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	inst := serve(tb, opts, teststore.OpenPool(tb, opts.PoolSize))
	np := opts.Programme
	if np.Name == "" {
		np.Name = "Test Programme"
	}
	prog, err := inst.Service.CreateProgramme(context.Background(), np)
	if err != nil {
		tb.Fatalf("create programme: %v", err)
	}
	inst.APIKey, inst.UIKey, inst.Programme = prog.APIKey, prog.UIKey, prog.Programme
	return inst
}

// Replica starts a second Deputy with inst's options on inst's PostgreSQL
// database, as a second `deputy serve` replica: its own pool, service and
// HTTP server, serving inst's programme with the same keys. On bbolt it
// skips tb.
func (inst *Instance) Replica(tb testing.TB) *Instance {
	tb.Helper()
	r := serve(tb, inst.opts, teststore.OpenReplica(tb, inst.Store, inst.opts.PoolSize))
	r.APIKey, r.UIKey, r.Programme = inst.APIKey, inst.UIKey, inst.Programme
	return r
}

// serve runs the service and HTTP server of an Instance on store.
func serve(tb testing.TB, opts Options, store core.Store) *Instance {
	tb.Helper()
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := core.NewOffsetClock(nil)
	outbox := core.NewOutbox(store, clock)
	cfg := opts.Config
	cfg.Sandbox = !opts.NotSandbox
	if cfg.RateLimits == nil {
		cfg.RateLimits = &core.RateLimits{} // off unless the test sets them
	}
	cfg.Logger = log
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = FastPasswords
	}
	ctx := context.Background()
	var svcStore core.Store = store
	if opts.WrapStore != nil {
		svcStore = opts.WrapStore(store)
	}
	svc, err := core.New(ctx, cfg, svcStore, core.Integrations{SMS: outbox, Email: outbox, KYC: core.SandboxKYC{}, Push: opts.Push}, clock)
	if err != nil {
		tb.Fatalf("core: %v", err)
	}
	sopts := opts.Server
	sopts.Clock = clock
	if sopts.Logger == nil {
		sopts.Logger = log
	}
	h, err := server.New(svc, sopts)
	if err != nil {
		tb.Fatalf("server: %v", err)
	}
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	return &Instance{URL: ts.URL, Service: svc, Store: store, Clock: clock, Logs: logs, opts: opts}
}

// SyncBuffer is a goroutine-safe log sink tests read back.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// SeedUsers writes n authorised users of identityID straight into the store,
// 5,000 to a transaction, for benchmarks that need a large identity: emails
// user<i>@bench.test, tags team-0..9, one of four roles, every seventh inactive.
func (inst *Instance) SeedUsers(tb testing.TB, identityID string, n int) {
	tb.Helper()
	roles := []core.Role{core.RoleCardAssignee, core.RoleAdmin, core.RoleFundsManagement, core.RoleCardsManagement}
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		err := inst.Store.Update(context.Background(), func(tx core.Tx) error {
			for i := start; i < min(start+5000, n); i++ {
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				u := &core.User{
					ID: id, IdentityID: identityID, IdentityType: core.Corporate, ProgrammeID: inst.Programme.ID,
					Name: "User", Surname: strconv.Itoa(i), Email: "user" + strconv.Itoa(i) + "@bench.test",
					Tag: "team-" + strconv.Itoa(i%10), Roles: []core.Role{roles[i%len(roles)]}, Active: i%7 != 0,
					CreatedAt: now, UpdatedAt: now,
				}
				if err := tx.InsertUser(u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("seed users: %v", err)
		}
	}
}
