package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/mod/sumdb/note"

	"github.com/deputyhq/deputy/auditlog"
	"github.com/deputyhq/deputy/internal/slots"
	"github.com/deputyhq/deputy/password"
)

// Config holds the service's tunables. Zero values take the documented defaults.
type Config struct {
	// Sandbox makes every one-time code 123456 and is meant for integration testing only.
	Sandbox bool
	// Offline is a service that will not serve (operator commands): it may
	// open a store served in either mode, to manage it, and marks none
	// (ErrSandboxStore, ErrProductionStore).
	Offline bool
	// SessionIdle ends a session after this long without activity (default 5 minutes).
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after its sign-in, however
	// active (default 12 hours), so that a stolen token kept busy does not
	// live for ever.
	SessionLifetime time.Duration
	// LockoutThreshold consecutive failed sign-ins lock a user (default 5).
	LockoutThreshold int
	// LockoutDuration is how long a lockout lasts (default 30 minutes).
	LockoutDuration time.Duration
	// ResetCodeTTL is the life of a lost-password code (default 15 minutes).
	ResetCodeTTL time.Duration
	// IdempotencyTTL is how long an idempotency-ref is remembered (default 24 hours).
	IdempotencyTTL time.Duration
	// InviteTTL is the life of an invitation (default 30 days).
	InviteTTL time.Duration
	// ChallengeTTL is the life of a one-time-code challenge (default 5 minutes).
	ChallengeTTL time.Duration
	// ReissueInterval is the least time between two codes for one challenge (default 15s).
	ReissueInterval time.Duration
	// MaxReissues is how often a session may re-issue a challenge (default 2).
	MaxReissues int
	// SCAFailureLimit consecutive wrong codes, across challenges, pause a user's
	// challenges for SCALockout and end their sessions (defaults 10 and 30 minutes).
	SCAFailureLimit int
	SCALockout      time.Duration
	// OriginHost ends SMS codes as "@host #code" so phones autofill them only on that site.
	OriginHost string
	// PasswordTokenTTL is the life of a tokenised password (default 5 minutes).
	PasswordTokenTTL time.Duration
	// RateLimits are the budgets of sign-ins, tokenisation, SMS, email and
	// invite codes (default DefaultRateLimits(); a zero Requests in one limit
	// switches it off).
	RateLimits *RateLimits
	// PasswordParams are the argon2id parameters for new hashes (default password.DefaultParams).
	PasswordParams password.Params
	// MaxConcurrentHashes bounds parallel argon2id work (default GOMAXPROCS).
	MaxConcurrentHashes int
	// Logger receives operational logs; never secrets (default slog.Default()).
	Logger *slog.Logger
	// Observer is told of domain events and password hashes, for metrics and
	// traces (default: nobody).
	Observer Observer
	// WebAuthnRPID is the WebAuthn relying party id the companion's credentials
	// are scoped to (WebAuthn §5.1.2): the origins' host or a parent domain of
	// it (default "localhost").
	WebAuthnRPID string
	// WebAuthnOrigins are the origins the companion acts for, checked against
	// clientDataJSON.origin (WebAuthn §7.1 step 9, §7.2 step 13; default
	// ["https://localhost"]).
	WebAuthnOrigins []string
	// PushHeartbeat is how often a push event stream sends a heartbeat, which
	// also keeps its session alive (default 15s).
	PushHeartbeat time.Duration
	// PushPoll is how often a push event stream or long poll re-reads the store,
	// so that a change committed by another replica reaches it (default 3s).
	PushPoll time.Duration
	// AuditSigner signs the audit log's checkpoints (auditlog.go); nil signs
	// none. AuditVerifier, its verifier, is required with it: New refuses a
	// store whose checkpoints another key signed, and no checkpoint is signed
	// over a log that no longer holds what an earlier one signed.
	AuditSigner   note.Signer
	AuditVerifier note.Verifier
	// AuditCheckpointEvents and AuditCheckpointInterval say when a programme's
	// log gets a new checkpoint: after that many new events, or, when it has
	// new events, once its last checkpoint is that old; a log without one gets
	// its first at once (defaults DefaultAuditCheckpointEvents and
	// DefaultAuditCheckpointInterval).
	AuditCheckpointEvents   int
	AuditCheckpointInterval time.Duration
}

func (c *Config) applyDefaults() error {
	if c.SessionIdle == 0 {
		c.SessionIdle = 5 * time.Minute
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	if c.LockoutThreshold == 0 {
		c.LockoutThreshold = 5
	}
	if c.LockoutDuration == 0 {
		c.LockoutDuration = 30 * time.Minute
	}
	if c.ResetCodeTTL == 0 {
		c.ResetCodeTTL = 15 * time.Minute
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.InviteTTL == 0 {
		c.InviteTTL = 30 * 24 * time.Hour
	}
	if c.ChallengeTTL == 0 {
		c.ChallengeTTL = 5 * time.Minute
	}
	if c.ReissueInterval == 0 {
		c.ReissueInterval = 15 * time.Second
	}
	if c.MaxReissues == 0 {
		c.MaxReissues = 2
	}
	if c.SCAFailureLimit == 0 {
		c.SCAFailureLimit = 10
	}
	if c.SCALockout == 0 {
		c.SCALockout = 30 * time.Minute
	}
	if c.OriginHost == "" {
		c.OriginHost = "localhost"
	}
	if c.AuditCheckpointEvents == 0 {
		c.AuditCheckpointEvents = DefaultAuditCheckpointEvents
	}
	if c.AuditCheckpointInterval == 0 {
		c.AuditCheckpointInterval = DefaultAuditCheckpointInterval
	}
	if c.PasswordTokenTTL == 0 {
		c.PasswordTokenTTL = 5 * time.Minute
	}
	if c.RateLimits == nil {
		rl := DefaultRateLimits()
		c.RateLimits = &rl
	}
	if c.PasswordParams == (password.Params{}) {
		c.PasswordParams = password.DefaultParams
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if err := c.applyPushDefaults(); err != nil {
		return err
	}
	if err := checkAuditKeyPair(c.AuditSigner, c.AuditVerifier); err != nil {
		return err
	}
	switch {
	case c.SessionIdle < time.Second:
		return fmt.Errorf("session idle timeout %v is below one second", c.SessionIdle)
	case c.SessionLifetime < c.SessionIdle:
		return fmt.Errorf("session lifetime %v is below the idle timeout %v", c.SessionLifetime, c.SessionIdle)
	case c.SCAFailureLimit < 1 || c.MaxReissues < 0:
		return errors.New("SCA failure limit must be at least 1 and re-issues not negative")
	case c.LockoutThreshold < 1:
		return fmt.Errorf("lockout threshold %d must be at least 1", c.LockoutThreshold)
	case c.LockoutDuration < 0 || c.ResetCodeTTL < 0:
		return errors.New("durations must not be negative")
	case c.IdempotencyTTL < 24*time.Hour:
		return fmt.Errorf("idempotency TTL %v is below the promised 24 hours", c.IdempotencyTTL)
	}
	return c.RateLimits.validate()
}

// Integrations are the outside services core talks to. SMS and Email are
// required (the sandbox uses an Outbox for both); KYC may be nil, and then
// starting KYC fails with KYC_PROVIDER_NOT_CONFIGURED.
type Integrations struct {
	SMS   SMSSender
	Email EmailSender
	KYC   KYCProvider
	// Push relays push events to a third-party push service (FCM, APNs) so
	// that a sleeping companion wakes up; nil relies on the companion's own
	// event stream or long poll.
	Push PushRelay
	// Webhooks sends webhook events (package webhook); nil delivers none,
	// though the audit log, their outbox, keeps what happened.
	Webhooks WebhookSender
	// Bus wakes the push streams of the other replicas sharing the store
	// (the PostgreSQL store's LISTEN/NOTIFY); nil for one process.
	Bus PushBus
	// Leader runs the sweep and audit checkpoints on one replica at a time
	// (the PostgreSQL store's advisory locks); nil for one process.
	Leader Leader
	// Presence tells every replica sharing the store when a user's linked
	// device was last connected to any of them (the PostgreSQL store's
	// table); nil for one process, whose own streams are all there are.
	Presence DevicePresence
}

// passwordHasher is the password hashing core needs (password.Hasher, argon2id).
type passwordHasher interface {
	HashWithSalt(ctx context.Context, plain string, salt []byte) (string, error)
	Verify(ctx context.Context, plain, encoded string) (ok, rehash bool, err error)
	// VerifyEach checks several hashes, one argon2id hash per distinct salt.
	VerifyEach(ctx context.Context, plain string, encoded []string, salt []byte) ([]password.Check, error)
	// VerifyDummy spends the time of a failed Verify.
	VerifyDummy(ctx context.Context, plain string)
}

// Service is Deputy's domain API. It is safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store // space: the store as given, watched for running out of space
	space  *spaceWatch
	send   Integrations
	clock  Clock
	hasher passwordHasher
	keys   keyring
	// eventIDs makes and opens the ids of security events.
	eventIDs eventSealer
	mail     *mailTemplates
	log      *slog.Logger
	obs      Observer
	rp       *webauthn.WebAuthn
	hub      *pushHub
	// bulkWake wakes RunBulks when this process executes or resumes a bulk.
	bulkWake chan struct{}
	// auditHeads are the last checkpoint this process signed of each
	// programme's log, which the log must still hold when it signs the next.
	auditHeadsMu sync.Mutex
	auditHeads   map[string]auditlog.Checkpoint
	// background is read-held by each email sent later, push relay
	// (relay) and push bus wake-up (publishPush) in flight, so that
	// WaitForMail can wait for them all.
	background sync.RWMutex
	// resets are the slots of the password resets started and not yet
	// stored (LostPasswordStart).
	resets *slots.Slots
}

// New builds a Service over its dependencies, validating cfg. It loads the
// installation's hashing key from the store, creating it on first use.
func New(ctx context.Context, cfg Config, store Store, send Integrations, clock Clock) (*Service, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, fmt.Errorf("core config: %w", err)
	}
	if store == nil || send.SMS == nil || send.Email == nil || clock == nil {
		return nil, errors.New("core: store, SMS and email senders and clock are required")
	}
	if err := checkStoreMode(ctx, cfg, store); err != nil {
		return nil, err
	}
	key, err := loadHashKey(ctx, store)
	if err != nil {
		return nil, err
	}
	if err := checkAuditSigners(ctx, store, cfg.AuditVerifier); err != nil {
		return nil, err
	}
	mail, err := loadMailTemplates()
	if err != nil {
		return nil, err
	}
	rp, err := newRelyingParty(cfg)
	if err != nil {
		return nil, err
	}
	space := &spaceWatch{Store: store, clock: clock}
	keys := newKeyring(key)
	return &Service{
		cfg:        cfg,
		store:      space,
		space:      space,
		send:       send,
		clock:      clock,
		hasher:     password.NewHasher(cfg.PasswordParams, cfg.MaxConcurrentHashes, password.WithObserver(cfg.Observer)),
		keys:       keys,
		eventIDs:   newEventSealer(keys),
		mail:       mail,
		log:        cfg.Logger,
		obs:        cfg.Observer,
		rp:         rp,
		hub:        newPushHub(),
		bulkWake:   make(chan struct{}, 1),
		auditHeads: map[string]auditlog.Checkpoint{},
		resets:     newResetSlots(),
	}, nil
}

// loadHashKey reads the keyed-hash secret, creating it atomically on first start.
func loadHashKey(ctx context.Context, store Store) ([]byte, error) {
	var key []byte
	err := store.Update(ctx, func(tx Tx) error {
		k, err := tx.Meta(metaHashKey)
		if err == nil {
			key = k
			return nil
		}
		if !errors.Is(err, ErrRecordNotFound) {
			return err
		}
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return err
		}
		key = k
		return tx.PutMeta(metaHashKey, k)
	})
	if err != nil {
		return nil, fmt.Errorf("load hashing key: %w", err)
	}
	return key, nil
}

// Sandbox reports whether the service runs in sandbox mode.
func (s *Service) Sandbox() bool { return s.cfg.Sandbox }

// Now is the service clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// newSealedCode makes a 6-digit one-time code (123456 in sandbox, random
// otherwise) and seals it for purpose (sealOTP): the code to send, and the
// nonce and hash to store in its place.
func (s *Service) newSealedCode(purpose string) (code, nonce string, hash []byte, err error) {
	code = SandboxCode
	if !s.cfg.Sandbox {
		if code, err = randomDigits(CodeLength); err != nil {
			return "", "", nil, err
		}
	}
	nonce, hash, err = s.keys.sealOTP(purpose, code)
	return code, nonce, hash, err
}

// CodeLength is the number of digits of a one-time code.
const CodeLength = 6

// SandboxCode is the one-time code every challenge accepts in sandbox mode.
const SandboxCode = "123456"

type clientKey struct{}

// Client is who made a request, as the server saw it: the address (after
// trusted proxies) and the User-Agent. A push challenge shows it on the
// phone ("asked from ..."), so the user can tell a request of theirs from
// someone else's.
type Client struct {
	IP, Agent string
}

// MaxClientAgentLen bounds the User-Agent a push challenge keeps, in bytes.
const MaxClientAgentLen = 200

// WithClient returns ctx carrying the request's client. The User-Agent is
// made text (TextRule), since the phone shows it: HTTP refuses only ASCII
// controls in a header, so every other character TextRule refuses (a bidi
// override, a line separator, a C1 control, a tab) and any invalid byte
// becomes U+FFFD. It is then cut to MaxClientAgentLen bytes on a character
// boundary.
func WithClient(ctx context.Context, c Client) context.Context {
	c.Agent = clientAgent(c.Agent)
	return context.WithValue(ctx, clientKey{}, c)
}

// clientAgent is agent as WithClient keeps it.
func clientAgent(agent string) string {
	if len(agent) > 4*MaxClientAgentLen {
		agent = agent[:4*MaxClientAgentLen] // no more read than can be kept
	}
	var b strings.Builder
	for _, r := range agent { // an invalid byte reads as utf8.RuneError
		if notText(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > MaxClientAgentLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ClientOf returns the client carried by ctx; zero when none is.
func ClientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

type requestRefKey struct{}

// WithRequestRef returns ctx carrying the request's reference for audit events.
func WithRequestRef(ctx context.Context, ref string) context.Context {
	return context.WithValue(ctx, requestRefKey{}, ref)
}

// RequestRef returns the request reference carried by ctx, or "".
func RequestRef(ctx context.Context) string {
	ref, _ := ctx.Value(requestRefKey{}).(string)
	return ref
}

// Actors that are not users.
const (
	ActorAPI    = "api"    // a caller holding the programme's secret api key
	ActorSystem = "system" // Deputy itself (sweeps, lockouts)
)

// audit appends one event in tx, a new leaf of the programme's Merkle tree,
// and the webhook events it causes (webhooks.go). Invalid UTF-8 in the
// details (a header's bytes, say) is stored as U+FFFD, as the leaf's JSON
// encodes it: the stored event is exactly what its leaf hashes.
func (s *Service) audit(ctx context.Context, tx Tx, programmeID, actor, action, subject string, details map[string]string) error {
	for k, v := range details {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			delete(details, k)
			details[strings.ToValidUTF8(k, "\uFFFD")] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	e := &AuditEvent{
		ProgrammeID: programmeID,
		Actor:       actor,
		Action:      action,
		Subject:     subject,
		RequestRef:  RequestRef(ctx),
		At:          s.clock.Now(),
		Details:     details,
	}
	if err := tx.AppendAudit(e); err != nil {
		return err
	}
	return AddAuditLeaf(tx, e)
}

// internal wraps an unexpected store error with context; it maps to a 500.
func internal(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Ready reports whether the service can take traffic: ErrUnavailable while
// its store is out of space (see spaceWatch.ready) or does not answer a read.
func (s *Service) Ready(ctx context.Context) error {
	err := s.space.ready(ctx)
	if err == nil {
		err = s.store.View(ctx, func(tx ReadTx) error {
			_, err := tx.Meta(metaHashKey)
			return err
		})
	}
	if err != nil && !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", &Error{Class: ErrUnavailable, RetryAfter: UnavailableRetry}, err)
	}
	return err
}
