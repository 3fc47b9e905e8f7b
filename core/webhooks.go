package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks tell an embedder's backend what happened, as Weavr's webhooks do
// (Weavr webhooks spec, "Login", "Stepup", "Authentication Factors",
// "Authorised Users"). The audit log, written in the transaction of each
// change, is their outbox: a worker derives the events from it
// (webhookfanout.go) and delivers each, signed, to every endpoint of the
// programme that wants it (webhookdelivery.go).

// WebhookEventType names an event a webhook endpoint may subscribe to, and
// its path under the endpoint's URL: Weavr's watch path for Weavr's events,
// /deputy/... for Deputy's own.
type WebhookEventType struct {
	Name string
	Path string
}

// WebhookEventTypes are every event Deputy sends, Weavr's first.
var WebhookEventTypes = []WebhookEventType{
	{EventLogin, "/login/watch"},
	{EventStepUp, "/stepup/watch"},
	{EventAuthenticationFactors, "/authentication_factors/watch"},
	{EventBulkProcessEnd, "/bulk_process_end/watch"},
	{EventUserDeactivated, "/auth/users/user_deactivated/watch"},
	{EventUserCreated, "/deputy/users/created/watch"},
	{EventUserUpdated, "/deputy/users/updated/watch"},
	{EventUserActivated, "/deputy/users/activated/watch"},
	{EventRolesChanged, "/deputy/users/roles_changed/watch"},
	{EventInviteConsumed, "/deputy/users/invite_consumed/watch"},
	{EventDeviceReplaced, "/deputy/users/device_replaced/watch"},
	{EventDeviceReset, "/deputy/users/device_reset/watch"},
	{EventUserLocked, "/deputy/users/locked/watch"},
	{EventSecurityAlert, "/deputy/users/security_alert/watch"},
	{EventConfirmation, "/deputy/users/confirmation/watch"},
}

// Event type names.
const (
	EventLogin                 = "login"                  // Weavr LoginEvent
	EventStepUp                = "stepup"                 // Weavr StepupEvent
	EventAuthenticationFactors = "authentication_factors" // Weavr EnrolmentEvent
	EventUserDeactivated       = "user_deactivated"       // Weavr IdentityDeactivatedEvent
	EventBulkProcessEnd        = "bulk_process_end"       // Weavr BulkProcessProgressEvent, when a bulk ends
	EventUserCreated           = "user_created"
	EventUserUpdated           = "user_updated"
	EventUserActivated         = "user_activated"
	EventRolesChanged          = "roles_changed"
	EventInviteConsumed        = "invite_consumed"
	EventDeviceReplaced        = "device_replaced"
	EventDeviceReset           = "device_reset"
	EventUserLocked            = "user_locked"
	EventSecurityAlert         = "security_alert"
	EventConfirmation          = "confirmation" // a confirmation challenge verified or failed (confirm.go)
)

// webhookEventPath returns the path of an event type, or "" for an unknown one.
func webhookEventPath(name string) string {
	for _, t := range WebhookEventTypes {
		if t.Name == name {
			return t.Path
		}
	}
	return ""
}

// NewWebhook is what it takes to add a webhook endpoint.
type NewWebhook struct {
	URL string
	// Events are the event types it receives; empty: every one.
	Events []string
	// AllowPrivate lets the URL reach loopback and private addresses.
	AllowPrivate bool
}

// Webhook is an endpoint as operators see it: never its secrets.
type Webhook struct {
	ID, ProgrammeID, URL string
	Events               []string
	AllowPrivate         bool
	Disabled             bool
	DisabledReason       string
	CreatedAt            time.Time
}

// CreatedWebhook is an endpoint with its signing secret, shown once.
type CreatedWebhook struct {
	Webhook *Webhook
	Secret  string // whsec_ and base64 (Standard Webhooks)
}

// MaxWebhooks is how many endpoints a programme may have.
const MaxWebhooks = 20

// webhookSecretPrefix marks endpoint secrets (Standard Webhooks' "whsec_").
const webhookSecretPrefix = "whsec_"

func (e *WebhookEndpoint) view() *Webhook {
	return &Webhook{ID: e.ID, ProgrammeID: e.ProgrammeID, URL: e.URL, Events: e.Events, AllowPrivate: e.AllowPrivate,
		Disabled: e.Disabled, DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt}
}

// AddWebhook adds an endpoint to a programme and returns its signing secret,
// which exists in plain text only here. The URL must be https and reach
// public addresses only, unless AllowPrivate (local development and tests),
// which allows private addresses and http; the sandbox allows http too.
func (s *Service) AddWebhook(ctx context.Context, programmeID string, in NewWebhook) (*CreatedWebhook, error) {
	if err := s.checkWebhookURL(ctx, in.URL, in.AllowPrivate); err != nil {
		return nil, err
	}
	for _, ev := range in.Events {
		if webhookEventPath(ev) == "" {
			return nil, Invalid("events", ReasonIn, webhookEventNames()...)
		}
	}
	secret, sealed, err := s.newWebhookSecret()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	e := &WebhookEndpoint{ProgrammeID: programmeID, URL: in.URL, Events: slices.Compact(slices.Sorted(slices.Values(in.Events))),
		Secrets: []WebhookSecret{{Sealed: sealed, CreatedAt: now}}, AllowPrivate: in.AllowPrivate, CreatedAt: now}
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.Programme(programmeID); err != nil {
			return err
		}
		eps, err := tx.WebhookEndpoints(programmeID)
		if err != nil {
			return err
		}
		if len(eps) >= MaxWebhooks {
			return Conflict(CodeWebhookLimit)
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		e.ID = "wh_" + id
		if err := s.audit(ctx, tx, programmeID, ActorSystem, "webhook.add", e.ID, map[string]string{"url": e.URL}); err != nil {
			return err
		}
		size, err := tx.AuditSize(programmeID) // the endpoint takes what happens from now on
		if err != nil {
			return err
		}
		e.Fanned = uint64(size)
		return tx.PutWebhookEndpoint(e)
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, NotFound("programme")
	}
	if err != nil {
		return nil, internal("add webhook", err)
	}
	return &CreatedWebhook{Webhook: e.view(), Secret: secret}, nil
}

func webhookEventNames() []string {
	names := make([]string, len(WebhookEventTypes))
	for i, t := range WebhookEventTypes {
		names[i] = t.Name
	}
	return names
}

// newWebhookSecret returns a new signing secret and the secret sealed.
func (s *Service) newWebhookSecret() (string, []byte, error) {
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("webhook secret: %w", err)
	}
	sealed, err := s.seal(sealWebhookSecret, key)
	if err != nil {
		return "", nil, err
	}
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(key), sealed, nil
}

// checkWebhookURL refuses a URL that is malformed (also with a character
// TextRule refuses, which url.Parse keeps and `deputy programme webhooks
// list` would print to the operator's terminal; with an empty
// fragment: "#", which url.Parse keeps as none, would cut off each event's
// path; a port without a host, which a dial takes for the local machine; or
// a port no connection reaches), has a query, is not https
// (outside sandbox), or, unless allowPrivate, names or resolves to a
// loopback, private, link-local or unspecified address. The delivery checks the
// address again when it connects, for a name that resolves elsewhere later.
func (s *Service) checkWebhookURL(ctx context.Context, raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return Invalid("url", ReasonRequired)
	case err != nil || !ValidText(raw) || u.Hostname() == "" || u.User != nil || strings.Contains(raw, "#") || !validPort(u.Port()) || len(raw) > 2048:
		return badWebhookURL(ReasonURL)
	case u.RawQuery != "" || u.ForceQuery:
		return badWebhookURL(ReasonURLQuery)
	case u.Scheme != "https" && !(u.Scheme == "http" && (s.cfg.Sandbox || allowPrivate)):
		return badWebhookURL(ReasonHTTPSRequired)
	case allowPrivate:
		return nil
	}
	host := u.Hostname()
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return badWebhookURL(ReasonPrivateAddress)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return badWebhookURL(ReasonUnresolved)
		}
	}
	for _, a := range addrs {
		if !PublicAddress(a) {
			return badWebhookURL(ReasonPrivateAddress)
		}
	}
	return nil
}

// validPort reports whether a URL's port, when it has one, is one a
// connection can reach (url.Parse takes any digits: 0 and 99999 too, which
// would fail every delivery for days).
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// badWebhookURL refuses a webhook URL for reason, saying why in words for
// the operator who typed it.
func badWebhookURL(reason string) *Error {
	e := Invalid("url", reason)
	e.Message = webhookURLRefusals[reason]
	return e
}

var webhookURLRefusals = map[string]string{
	ReasonURL:            "not an absolute http(s) URL of at most 2,048 printable characters without user info or fragment, with a port from 1 to 65535 if any",
	ReasonURLQuery:       "a query is not allowed: each event's path goes after the URL, and the signatures authenticate the requests",
	ReasonHTTPSRequired:  "https is required outside sandbox (--allow-private lets http through for local development)",
	ReasonPrivateAddress: "the address is not globally reachable (--allow-private allows it for local development)",
	ReasonUnresolved:     "the host name does not resolve",
}

// PublicAddress reports whether a webhook may be sent to a: an address
// IANA's special-purpose registries (RFC 6890 and its updates) do not mark
// as other than globally reachable, so neither loopback, private (RFC 1918,
// RFC 4193), shared (RFC 6598), link-local, site-local, documentation,
// benchmarking, reserved, multicast nor unspecified. An IPv6 address that
// embeds an IPv4 one a gateway connects to (NAT64's well-known prefix, RFC
// 6052; 6to4, RFC 3056) is judged by that IPv4 address; any other IPv6
// address must be global unicast (2000::/3, the only block IANA's IPv6
// address space registry gives out), which also rules out IPv4-translated
// addresses (RFC 2765) that a SIIT gateway would take to a private network,
// and the local-use NAT64 prefix (RFC 8215), a network's own.
func PublicAddress(a netip.Addr) bool {
	a = a.Unmap().WithZone("") // Prefix.Contains never matches a zoned address
	b := a.As16()
	switch {
	case nat64.Contains(a):
		a = netip.AddrFrom4([4]byte(b[12:]))
	case sixToFour.Contains(a):
		a = netip.AddrFrom4([4]byte(b[2:6]))
	case a.Is6() && !globalUnicast.Contains(a):
		return false
	}
	return a.IsValid() && !slices.ContainsFunc(notGlobal, func(p netip.Prefix) bool { return p.Contains(a) })
}

var (
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	globalUnicast = netip.MustParsePrefix("2000::/3")
	// notGlobal are the special-purpose ranges whose addresses are not
	// globally reachable, or are unused: IPv4's, and IPv6's within 2000::/3.
	notGlobal = mustParsePrefixes(
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"2001::/23", "2001:db8::/32", "3fff::/20",
	)
)

func mustParsePrefixes(ps ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// Webhooks lists a programme's endpoints.
func (s *Service) Webhooks(ctx context.Context, programmeID string) ([]*Webhook, error) {
	var out []*Webhook
	err := s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Programme(programmeID); err != nil {
			return err
		}
		eps, err := tx.WebhookEndpoints(programmeID)
		out = out[:0]
		for _, e := range eps {
			out = append(out, e.view())
		}
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, NotFound("programme")
	}
	return out, internal("list webhooks", err)
}

// RemoveWebhook removes an endpoint; its pending deliveries fail when their turn comes.
func (s *Service) RemoveWebhook(ctx context.Context, programmeID, id string) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := programmeWebhook(tx, programmeID, id); err != nil {
			return err
		}
		if err := tx.DeleteWebhookEndpoint(id); err != nil {
			return err
		}
		return s.audit(ctx, tx, programmeID, ActorSystem, "webhook.remove", id, nil)
	})
	return internal("remove webhook", err)
}

// MaxWebhookSecretOverlap is the longest an old secret keeps signing after a rotation.
const MaxWebhookSecretOverlap = 7 * 24 * time.Hour

// RotateWebhookSecret gives an endpoint a new signing secret, returned once;
// deliveries carry a signature with the old one too for overlap (0 drops it,
// and every older one, at once), so that the receiver can switch without
// refusing a delivery. A rotation also enables an endpoint disabled by a 410.
func (s *Service) RotateWebhookSecret(ctx context.Context, programmeID, id string, overlap time.Duration) (string, error) {
	if overlap < 0 || overlap > MaxWebhookSecretOverlap {
		return "", Invalid("overlap", ReasonRange, "0", MaxWebhookSecretOverlap.String())
	}
	secret, sealed, err := s.newWebhookSecret()
	if err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		e, err := programmeWebhook(tx, programmeID, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		kept := []WebhookSecret{{Sealed: sealed, CreatedAt: now}}
		for i, old := range e.Secrets {
			if overlap > 0 && (i == 0 || now.Before(old.Until)) {
				if i == 0 {
					old.Until = now.Add(overlap)
				}
				kept = append(kept, old)
			}
		}
		e.Secrets, e.Disabled, e.DisabledReason = kept, false, ""
		if err := tx.PutWebhookEndpoint(e); err != nil {
			return err
		}
		return s.audit(ctx, tx, programmeID, ActorSystem, "webhook.rotate_secret", id, map[string]string{"overlap": overlap.String()})
	})
	if err != nil {
		return "", internal("rotate webhook secret", err)
	}
	return secret, nil
}

// programmeWebhook reads an endpoint of a programme; another programme's is not found.
func programmeWebhook(tx ReadTx, programmeID, id string) (*WebhookEndpoint, error) {
	e, err := tx.WebhookEndpoint(id)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && e.ProgrammeID != programmeID) {
		return nil, NotFound("webhook")
	}
	return e, err
}

// wants reports whether the endpoint takes events of type name now.
func (e *WebhookEndpoint) wants(name string) bool {
	return !e.Disabled && (len(e.Events) == 0 || slices.Contains(e.Events, name))
}

// outEvent is an event about to enter the outbox.
type outEvent struct {
	Type    string
	Subject string
	Body    any
}

// pendingDelivery is a new delivery of ev to an endpoint, created at, not
// yet attempted.
func pendingDelivery(endpointID string, ev *WebhookEvent, at time.Time) *WebhookDelivery {
	return &WebhookDelivery{ProgrammeID: ev.ProgrammeID, EndpointID: endpointID, EventID: ev.ID, Subject: ev.Subject,
		State: DeliveryPending, CreatedAt: at}
}

// queueDelivery appends a pending delivery to its endpoint's queue for its
// subject: due from its creation when the queue is empty. busy says the
// caller knows that it is not.
func queueDelivery(tx Tx, d *WebhookDelivery, busy bool) error {
	if !busy {
		head, err := tx.WebhookQueue(d.EndpointID, d.Subject, 1)
		if err != nil {
			return err
		}
		busy = len(head) > 0
	}
	if !busy {
		d.NextAt = d.CreatedAt
	}
	return tx.AppendWebhookDelivery(d)
}
