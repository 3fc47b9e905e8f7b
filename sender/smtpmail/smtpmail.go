// Package smtpmail sends emails over SMTP (RFC 5321) with github.com/wneessen/go-mail.
// Each message is multipart/alternative (RFC 2046 section 5.1.4) with a plain-text
// and an optional HTML part, UTF-8 throughout, the From display name taken from
// the message and the address from the configuration. The connection is always
// encrypted, by mandatory STARTTLS (RFC 3207, the default) or implicit TLS
// (RFC 8314), except in "none" mode, which is only accepted for a relay on
// loopback. Credentials go as AUTH PLAIN (RFC 4616), else LOGIN, else the
// strongest mechanism go-mail discovers, and only over an encrypted or loopback
// connection. Message bodies hold one-time codes: they, and the password, never
// appear in an error.
package smtpmail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/deputyhq/deputy/core"
)

// TLSMode says how the connection to the server is encrypted. The zero value
// is StartTLS, the strictest mode that works with a submission port.
type TLSMode string

const (
	// StartTLS upgrades a plain connection with STARTTLS and fails if the
	// server does not offer it (default port 587).
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (default port 465).
	ImplicitTLS TLSMode = "tls"
	// NoTLS sends in the clear (default port 25). New accepts it only for a
	// loopback host, such as a local relay.
	NoTLS TLSMode = "none"
)

// Config describes the SMTP server and the sending address.
type Config struct {
	// Host is the server's name or IP address (required).
	Host string
	// Port defaults by TLS mode: 587, 465 or 25.
	Port int
	// Username and Password, when set, authenticate (PLAIN, else LOGIN).
	Username, Password string
	// From is the sender's bare address, e.g. "no-reply@example.com"; the
	// display name comes from each core.Email.
	From string
	// TLS is the encryption mode (default StartTLS).
	TLS TLSMode
	// Timeout bounds one SendEmail, from dialling to QUIT (default 10s).
	Timeout time.Duration
	// TLSConfig, when set, is used for the handshake (e.g. custom RootCAs in
	// tests); ServerName defaults to Host and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// HELO is the name sent in EHLO (default the machine's host name).
	HELO string
}

// Sender delivers emails through one SMTP server.
type Sender struct {
	cfg  Config
	addr string
	tls  *tls.Config
}

var _ core.EmailSender = (*Sender)(nil)

// New validates cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	cfg.Host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cfg.Host), "["), "]")
	if cfg.Host == "" || strings.ContainsAny(cfg.Host, "/ \t\r\n") {
		return nil, fmt.Errorf("smtp: Host %q must be a host name or IP address", cfg.Host)
	}
	if a, err := netmail.ParseAddress(cfg.From); err != nil || a.Name != "" || a.Address != cfg.From {
		return nil, fmt.Errorf("smtp: From %q must be a bare email address", cfg.From)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("smtp: Username and Password must be set together")
	}
	defaultPort := 0
	switch cfg.TLS {
	case "", StartTLS:
		cfg.TLS, defaultPort = StartTLS, 587
	case ImplicitTLS:
		defaultPort = 465
	case NoTLS:
		if !isLoopback(cfg.Host) {
			return nil, fmt.Errorf("smtp: TLS mode %q is only allowed for a loopback host, not %q; use %q or %q", NoTLS, cfg.Host, StartTLS, ImplicitTLS)
		}
		defaultPort = 25
	default:
		return nil, fmt.Errorf("smtp: unknown TLS mode %q (want %q, %q or %q)", cfg.TLS, StartTLS, ImplicitTLS, NoTLS)
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: Port %d out of range", cfg.Port)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &Sender{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), tls: tc}, nil
}

// SendEmail delivers m over one connection. It gives up when ctx ends or
// after the configured Timeout, whichever comes first.
func (s *Sender) SendEmail(ctx context.Context, m core.Email) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtp %s: %w", s.addr, err)
	}
	msg, err := s.compose(m)
	if err != nil {
		return err
	}

	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	client, err := mail.NewClient(s.cfg.Host, s.options(sendCtx)...)
	if err != nil {
		return fmt.Errorf("smtp %s: %s", s.addr, s.redact(err, m))
	}
	err = s.send(sendCtx, client, msg)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("smtp %s: %w", s.addr, context.Cause(ctx))
	case sendCtx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("smtp %s: timed out after %s: %w", s.addr, s.cfg.Timeout, context.DeadlineExceeded)
	default:
		// go-mail's errors can hold the message (SendError.Msg): keep only the
		// redacted text.
		return fmt.Errorf("smtp %s: %s", s.addr, s.redact(err, m))
	}
}

// send delivers msg on a new connection. Once the server has accepted the
// message a failed QUIT is ignored, so that callers do not send it twice.
func (s *Sender) send(ctx context.Context, client *mail.Client, msg *mail.Msg) error {
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	if err := client.SendWithSMTPClient(conn, msg); err != nil {
		_ = client.CloseWithSMTPClient(conn)
		return err
	}
	_ = client.CloseWithSMTPClient(conn)
	return nil
}

// compose builds the MIME message; header values lose any line breaks.
func (s *Sender) compose(m core.Email) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.SetAddrHeaderFromMailAddress(mail.HeaderFrom, &netmail.Address{Name: oneLine(m.FromName), Address: s.cfg.From})
	if err := msg.To(m.To); err != nil {
		return nil, errors.New("smtp: invalid recipient address")
	}
	msg.Subject(oneLine(m.Subject))
	domain := s.cfg.From[strings.LastIndexByte(s.cfg.From, '@')+1:]
	msg.SetMessageIDWithValue(rand.Text() + "@" + domain)
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// options configures a go-mail client for one send bounded by ctx.
func (s *Sender) options(ctx context.Context) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithTLSConfig(s.tls),
		mail.WithDialContextFunc(s.dialer(ctx)),
	}
	if s.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(s.cfg.HELO))
	}
	switch s.cfg.TLS {
	case StartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, mail.WithSSL())
	case NoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
		if s.cfg.TLS == NoTLS {
			// New has checked that the host is loopback.
			opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc))
		} else {
			// go-mail refuses PLAIN and LOGIN unless the connection is TLS.
			opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin))
		}
	}
	return opts
}

// dialer opens the TCP connection (and the TLS session in ImplicitTLS mode)
// and closes it when ctx ends, which unblocks any read or write in progress:
// go-mail itself only watches the context while dialling.
func (s *Sender) dialer(ctx context.Context) mail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = raw.Close() })
		if s.cfg.TLS != ImplicitTLS {
			return raw, nil
		}
		conn := tls.Client(raw, s.tls)
		if err := conn.HandshakeContext(dialCtx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

// minRedactedLine is the shortest line of a message that redact takes out on
// its own: as long as a one-time code, so that a line such as "Hi," does not
// blank every "Hi" of the server's answer.
const minRedactedLine = 6

// redact returns err's text without the password or the message bodies,
// whole or line by line, in case a server echoes what it was sent (a
// rejected line may be the one with the code or the link).
func (s *Sender) redact(err error, m core.Email) string {
	text := err.Error()
	secrets := []string{m.Text, m.HTML}
	for _, body := range []string{m.Text, m.HTML} {
		for _, line := range strings.Split(body, "\n") {
			if len(strings.TrimSpace(line)) >= minRedactedLine {
				secrets = append(secrets, line)
			}
		}
	}
	if s.cfg.Password != "" {
		secrets = append(secrets,
			s.cfg.Password,
			base64.StdEncoding.EncodeToString([]byte(s.cfg.Password)),
			base64.StdEncoding.EncodeToString([]byte("\x00"+s.cfg.Username+"\x00"+s.cfg.Password)))
	}
	for _, secret := range secrets {
		if secret = strings.TrimSpace(secret); secret != "" {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	return text
}

// isLoopback reports whether host names this machine without a DNS lookup.
func isLoopback(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
