// Package deeplink parses and builds the deputy:// links the companion app
// opens: a connect link, which tells it which Deputy server and programme to
// talk to, and an invite link, which carries an invited user's id and code.
//
//	deputy://connect?server=https%3A%2F%2Fauth.example.com&key=dpk_...[&policy=weavr][&origin=https%3A%2F%2Fexample.com]
//	deputy://invite?userId=123&code=Hk3...(43 URL-safe characters; 123456 in sandbox)
//
// The invite link is the one core puts in the invite email when the programme
// has no invite page of its own; an embedder's https invite page with the
// same userId and code parameters is accepted too. Links arrive from outside
// the app (a scanned QR code, a pasted email), so everything here is a trust
// boundary: nothing is used until it has been checked, and a secret api key
// (dsk_...) is refused outright, because only the programme's public ui key
// may live on a phone (GUIDE, "Two keys per programme").
package deeplink

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Scheme is the URL scheme of the companion's links.
const Scheme = "deputy"

// Key prefixes (core/keys.go, core/programmes.go).
const (
	// UIKeyPrefix starts a programme's public ui key, the one the companion holds.
	UIKeyPrefix = "dpk_"
	// SecretKeyPrefix starts a programme's secret api key, which belongs to the
	// embedder's backend and must never be typed into a phone.
	SecretKeyPrefix = "dsk_"
)

// Errors of the parsers, matched with errors.Is.
var (
	// ErrSecretKey: the key is the programme's secret api key.
	ErrSecretKey = errors.New("this is the programme's secret API key (dsk_...), which must stay on the embedder's server; use the public UI key (dpk_...) instead")
	// ErrNotALink: the text is not a deputy:// link of the expected kind.
	ErrNotALink = errors.New("not a Deputy link")
	// ErrInvalid: the link is of the right kind but a parameter is missing or malformed.
	ErrInvalid = errors.New("invalid link")
)

// maxLinkLen bounds what the parsers read: a connect link with a long server
// address is far below it.
const maxLinkLen = 4096

// Connect is what a connect link carries.
type Connect struct {
	// Server is the Deputy server's base URL, http or https, without query.
	Server string
	// Key is the programme's public ui key.
	Key string
	// Policy names the programme's password profile ("weavr", "nist"), so the
	// companion can show its rules while the user types; "" means the default.
	Policy string
	// Origin is the WebAuthn origin the companion acts for (one of the
	// server's --webauthn-origin values); "" means https://<the server's RP ID>.
	Origin string
}

// String returns the deputy://connect link of c.
func (c Connect) String() string {
	q := url.Values{"server": {c.Server}, "key": {c.Key}}
	if c.Policy != "" {
		q.Set("policy", c.Policy)
	}
	if c.Origin != "" {
		q.Set("origin", c.Origin)
	}
	return (&url.URL{Scheme: Scheme, Host: "connect", RawQuery: q.Encode()}).String()
}

// Validate checks c's server address and key, as [ParseConnect] does.
func (c Connect) Validate() error {
	if err := CheckServer(c.Server); err != nil {
		return err
	}
	if err := CheckUIKey(c.Key); err != nil {
		return err
	}
	if c.Policy != "" && !validPolicy(c.Policy) {
		return fmt.Errorf("%w: unknown password policy %q", ErrInvalid, c.Policy)
	}
	if c.Origin != "" {
		if err := CheckOrigin(c.Origin); err != nil {
			return err
		}
	}
	return nil
}

// CheckOrigin reports whether origin is a web origin a WebAuthn client may
// act for: https://host[:port], or http on a loopback host.
func CheckOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%w: the origin must be scheme://host[:port]", ErrInvalid)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("%w: the origin must use https", ErrInvalid)
	}
	return nil
}

// isLoopback reports whether host names this machine: the only place where
// plain http carries no password or token across a network.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func validPolicy(p string) bool { return p == "weavr" || p == "nist" }

// Invite is what an invite link carries.
type Invite struct {
	UserID string
	Code   string
}

// String returns the deputy://invite link of i.
func (i Invite) String() string {
	q := url.Values{"userId": {i.UserID}, "code": {i.Code}}
	return (&url.URL{Scheme: Scheme, Host: "invite", RawQuery: q.Encode()}).String()
}

// ParseConnect reads a deputy://connect link. Surrounding spaces are ignored.
func ParseConnect(link string) (Connect, error) {
	u, err := parse(link)
	if err != nil {
		return Connect{}, err
	}
	if !strings.EqualFold(u.Scheme, Scheme) || !strings.EqualFold(u.Host, "connect") {
		return Connect{}, fmt.Errorf("%w: expected deputy://connect?server=...&key=...", ErrNotALink)
	}
	q := u.Query()
	c := Connect{Server: strings.TrimSpace(q.Get("server")), Key: strings.TrimSpace(q.Get("key")), Policy: q.Get("policy"), Origin: q.Get("origin")}
	if err := c.Validate(); err != nil {
		return Connect{}, err
	}
	// Whoever made the link chose the address the user is then asked to
	// check before connecting: a look-alike letter, a bidi override or an
	// invisible character would let it read as another server's. (A saved
	// connection, or an address the user typed, is not held to this.)
	if strings.ContainsFunc(c.Server, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return Connect{}, fmt.Errorf("%w: the server address must be printable ASCII without spaces (an international domain name in its xn-- form)", ErrInvalid)
	}
	return c, nil
}

// ParseInvite reads an invite link: deputy://invite?userId=..&code=.., or an
// https invite page with the same parameters. The code must pass [CheckInviteCode].
func ParseInvite(link string) (Invite, error) {
	u, err := parse(link)
	if err != nil {
		return Invite{}, err
	}
	switch {
	case strings.EqualFold(u.Scheme, Scheme) && strings.EqualFold(u.Host, "invite"):
	case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
	default:
		return Invite{}, fmt.Errorf("%w: expected deputy://invite?userId=...&code=...", ErrNotALink)
	}
	q := u.Query()
	inv := Invite{UserID: strings.TrimSpace(q.Get("userId")), Code: strings.TrimSpace(q.Get("code"))}
	if inv.UserID == "" && inv.Code == "" {
		return Invite{}, fmt.Errorf("%w: expected deputy://invite?userId=...&code=...", ErrNotALink)
	}
	if err := CheckUserID(inv.UserID); err != nil {
		return Invite{}, err
	}
	if err := CheckInviteCode(inv.Code); err != nil {
		return Invite{}, err
	}
	return inv, nil
}

func parse(link string) (*url.URL, error) {
	link = strings.TrimSpace(link)
	if link == "" {
		return nil, fmt.Errorf("%w: empty", ErrNotALink)
	}
	if len(link) > maxLinkLen || !utf8.ValidString(link) {
		return nil, fmt.Errorf("%w: too long or not text", ErrNotALink)
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotALink, err)
	}
	return u, nil
}

// CheckServer reports whether server is a usable base URL: https (http only
// on a loopback host, for a local test server), with a host, no credentials,
// query or fragment. Everything the companion sends goes there: passwords,
// invite codes, the session token and the device secret, which plain http
// would hand to anyone on the network path (an open Wi-Fi, a crafted link
// with http://).
func CheckServer(server string) error {
	if server == "" {
		return fmt.Errorf("%w: the server address is missing", ErrInvalid)
	}
	u, err := url.Parse(server)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		return fmt.Errorf("%w: the server address must start with https:// (or http:// for a local test server)", ErrInvalid)
	case u.Host == "":
		return fmt.Errorf("%w: the server address has no host name", ErrInvalid)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("%w: the server address must start with https:// (http:// only for a test server on this device)", ErrInvalid)
	case u.User != nil:
		return fmt.Errorf("%w: the server address must not contain a user name or password", ErrInvalid)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("%w: the server address must not have a query (?...) or fragment (#...)", ErrInvalid)
	}
	return nil
}

// CheckUIKey reports whether key can be the programme's public ui key: a
// secret api key is [ErrSecretKey]; anything else must be printable ASCII
// without spaces. The server decides whether the key is known.
func CheckUIKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the UI key is missing", ErrInvalid)
	case strings.HasPrefix(strings.ToLower(key), SecretKeyPrefix):
		return ErrSecretKey
	case len(key) > 256 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return fmt.Errorf("%w: the UI key must be printable characters without spaces", ErrInvalid)
	}
	return nil
}

// CheckUserID reports whether id looks like a Deputy user id (digits).
func CheckUserID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: the user id is missing", ErrInvalid)
	}
	if len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }) {
		return fmt.Errorf("%w: the user id must be digits", ErrInvalid)
	}
	return nil
}

// CheckCode reports whether code is a 6-digit one-time code.
func CheckCode(code string) error {
	if len(code) != 6 || strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' }) {
		return fmt.Errorf("%w: the code must be 6 digits", ErrInvalid)
	}
	return nil
}

// maxInviteCodeLen is the longest invite code the server accepts (the
// InviteCode schema of assets/openapi.yaml; core issues 43 characters).
const maxInviteCodeLen = 64

// CheckInviteCode reports whether code can be an invite code: 6 to 64 URL-safe
// characters (A-Z, a-z, 0-9, - and _). Outside sandbox the server issues
// 43-character random codes; in sandbox the code is 123456. The server decides
// whether it is right.
func CheckInviteCode(code string) error {
	if len(code) < 6 || len(code) > maxInviteCodeLen || strings.ContainsFunc(code, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return fmt.Errorf("%w: the invite code is 6 to 64 letters, digits, - or _: copy it from your invite email", ErrInvalid)
	}
	return nil
}
