package smtpmail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// delivery is what the test server received in one transaction.
type delivery struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool
	Username string
	Password string
}

// backend is a go-smtp backend that records deliveries and every AUTH
// attempt. When wantUser is set, MAIL requires a successful AUTH PLAIN.
type backend struct {
	wantUser, wantPass string

	mu         sync.Mutex
	deliveries []delivery
	authTries  []delivery // Username, Password and TLS of each AUTH
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

func (b *backend) got() ([]delivery, []delivery) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivery(nil), b.deliveries...), append([]delivery(nil), b.authTries...)
}

type session struct {
	b      *backend
	c      *smtp.Conn
	authed bool
	cur    delivery
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		_, isTLS := s.c.TLSConnectionState()
		s.b.mu.Lock()
		s.b.authTries = append(s.b.authTries, delivery{Username: username, Password: password, TLS: isTLS})
		s.b.mu.Unlock()
		if username != s.b.wantUser || password != s.b.wantPass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		s.cur.Username, s.cur.Password = username, password
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.wantUser != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := s.cur
	d.Data = data
	_, d.TLS = s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.deliveries = append(s.b.deliveries, d)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = delivery{Username: s.cur.Username, Password: s.cur.Password} }
func (s *session) Logout() error { return nil }

// serverTLS makes a self-signed ECDSA P-256 certificate for 127.0.0.1 and
// returns the server's TLS config and a client config that trusts it.
func serverTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "deputy test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return server, &tls.Config{RootCAs: pool}
}

type serverOpts struct {
	tls       *tls.Config // offered with STARTTLS, or spoken at once when implicit
	implicit  bool
	plainAuth bool // allow AUTH without TLS
}

// startServer runs a go-smtp server on 127.0.0.1:0 and returns its port.
func startServer(t *testing.T, be *backend, o serverOpts) int {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.plainAuth
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var (
		l   net.Listener
		err error
	)
	if o.implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		srv.TLSConfig = o.tls
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// silentServer accepts connections and never answers; accepted receives each one.
func silentServer(t *testing.T) (port int, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan struct{}, 8)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port, ch
}

const code = "654321"

var email = core.Email{
	ProgrammeID: "1",
	FromName:    "Acme Bank",
	To:          "ada@example.com",
	Subject:     "Your Acme code",
	Text:        "Your code is " + code + ".\r\nIt expires in 5 minutes.",
	HTML:        "<p>Your code is <b>" + code + "</b>.</p>",
}

// parsed is a received message split into the parts the tests look at.
type parsed struct {
	header     netmail.Header
	from       *netmail.Address
	subject    string
	text, html string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	var p parsed
	p.header = msg.Header
	p.from, err = netmail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		ct, ctParams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		assert.Equal(t, "utf-8", strings.ToLower(ctParams["charset"]), ct)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		default:
			t.Fatalf("unexpected part %s", ct)
		}
	}
	return p
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.From == "" {
		cfg.From = "no-reply@acme.example"
	}
	s, err := New(cfg)
	require.NoError(t, err)
	return s
}

func TestDeliversMultipartAlternative(t *testing.T) {
	tests := []struct {
		name              string
		fromName, subject string
		wantName, wantSub string
	}{
		{"ascii", "Acme Bank", "Your Acme code", "Acme Bank", "Your Acme code"},
		{"non-ascii", "Zürich Kantonalbank", "Votre code — Zürich ✓ 你好", "Zürich Kantonalbank", "Votre code — Zürich ✓ 你好"},
		{"quotes in name", `Acme "Pay" Ltd`, "Code", `Acme "Pay" Ltd`, "Code"},
		{"header injection", "Acme\r\nBcc: eve@evil.example", "Hi\r\nBcc: eve@evil.example", "Acme Bcc: eve@evil.example", "Hi Bcc: eve@evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &backend{}
			port := startServer(t, be, serverOpts{})
			s := newSender(t, Config{Port: port, TLS: NoTLS, HELO: "deputy.test"})
			m := email
			m.FromName, m.Subject = tt.fromName, tt.subject
			require.NoError(t, s.SendEmail(context.Background(), m))

			got, _ := be.got()
			require.Len(t, got, 1)
			d := got[0]
			assert.Equal(t, "no-reply@acme.example", d.From, "envelope sender")
			assert.Equal(t, []string{"ada@example.com"}, d.To, "envelope recipients")
			assert.False(t, d.TLS)

			p := parse(t, d.Data)
			assert.Equal(t, tt.wantName, p.from.Name)
			assert.Equal(t, "no-reply@acme.example", p.from.Address)
			to, err := netmail.ParseAddress(p.header.Get("To"))
			require.NoError(t, err)
			assert.Equal(t, "ada@example.com", to.Address)
			assert.Equal(t, tt.wantSub, p.subject)
			assert.Empty(t, p.header.Get("Bcc"))
			assert.Contains(t, p.header.Get("Message-Id"), "@acme.example>")
			assert.Equal(t, m.Text, p.text)
			assert.Equal(t, m.HTML, p.html)
		})
	}
}

func TestStartTLSWithAuthPlain(t *testing.T) {
	srvTLS, cliTLS := serverTLS(t)
	be := &backend{wantUser: "deputy", wantPass: "s3cret-pass"}
	port := startServer(t, be, serverOpts{tls: srvTLS})
	s := newSender(t, Config{Port: port, Username: "deputy", Password: "s3cret-pass", TLSConfig: cliTLS})
	assert.Equal(t, StartTLS, s.cfg.TLS, "default mode")

	require.NoError(t, s.SendEmail(context.Background(), email))
	got, auths := be.got()
	require.Len(t, got, 1)
	assert.True(t, got[0].TLS, "message sent after STARTTLS")
	assert.Equal(t, "deputy", got[0].Username)
	assert.Equal(t, "s3cret-pass", got[0].Password)
	require.Len(t, auths, 1)
	assert.True(t, auths[0].TLS, "credentials sent after STARTTLS")
	p := parse(t, got[0].Data)
	assert.Equal(t, email.Text, p.text)
	assert.Equal(t, email.HTML, p.html)
}

func TestImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := serverTLS(t)
	be := &backend{wantUser: "deputy", wantPass: "s3cret-pass"}
	port := startServer(t, be, serverOpts{tls: srvTLS, implicit: true})
	s := newSender(t, Config{Port: port, TLS: ImplicitTLS, Username: "deputy", Password: "s3cret-pass", TLSConfig: cliTLS})

	require.NoError(t, s.SendEmail(context.Background(), email))
	got, _ := be.got()
	require.Len(t, got, 1)
	assert.True(t, got[0].TLS)
	assert.Equal(t, "deputy", got[0].Username)
}

func TestAuthOnLoopbackWithoutTLS(t *testing.T) {
	be := &backend{wantUser: "relay", wantPass: "relay-pass"}
	port := startServer(t, be, serverOpts{plainAuth: true})
	s := newSender(t, Config{Host: "localhost", Port: port, TLS: NoTLS, Username: "relay", Password: "relay-pass"})

	require.NoError(t, s.SendEmail(context.Background(), email))
	got, _ := be.got()
	require.Len(t, got, 1)
	assert.Equal(t, "relay", got[0].Username)
}

// The two ways an attacker in the middle could try to get the password or the
// message in the clear: no STARTTLS offered, or a certificate we do not trust.
func TestRefusesToContinueWithoutTrustedTLS(t *testing.T) {
	srvTLS, _ := serverTLS(t)
	tests := []struct {
		name string
		srv  serverOpts
		cli  *tls.Config
	}{
		{"no STARTTLS offered", serverOpts{plainAuth: true}, nil},
		{"untrusted certificate", serverOpts{tls: srvTLS}, &tls.Config{RootCAs: x509.NewCertPool()}},
		{"untrusted certificate, implicit", serverOpts{tls: srvTLS, implicit: true}, &tls.Config{RootCAs: x509.NewCertPool()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &backend{wantUser: "deputy", wantPass: "s3cret-pass"}
			port := startServer(t, be, tt.srv)
			mode := StartTLS
			if tt.srv.implicit {
				mode = ImplicitTLS
			}
			s := newSender(t, Config{Port: port, TLS: mode, Username: "deputy", Password: "s3cret-pass", TLSConfig: tt.cli})
			err := s.SendEmail(context.Background(), email)
			require.Error(t, err)
			got, auths := be.got()
			assert.Empty(t, got)
			assert.Empty(t, auths, "no credentials sent")
			assert.NotContains(t, err.Error(), "s3cret-pass")
			assert.NotContains(t, err.Error(), code)
		})
	}
}

func TestWrongPasswordErrorLeaksNothing(t *testing.T) {
	srvTLS, cliTLS := serverTLS(t)
	be := &backend{wantUser: "deputy", wantPass: "right-pass"}
	port := startServer(t, be, serverOpts{tls: srvTLS})
	s := newSender(t, Config{Port: port, Username: "deputy", Password: "wrong-pass-42", TLSConfig: cliTLS})

	err := s.SendEmail(context.Background(), email)
	require.Error(t, err)
	got, auths := be.got()
	assert.Empty(t, got)
	require.Len(t, auths, 1, "the server saw the attempt")
	for _, secret := range []string{"wrong-pass-42", code, email.Text, email.HTML} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.Contains(t, err.Error(), "535", "the server's answer is kept")
}

func TestRedactsEchoedSecrets(t *testing.T) {
	s := newSender(t, Config{Username: "u", Password: "hunter2"})
	err := errors.New("550 you sent hunter2 and " + email.Text + " and aHVudGVyMg==")
	got := s.redact(err, email)
	for _, secret := range []string{"hunter2", code, "aHVudGVyMg=="} {
		assert.NotContains(t, got, secret)
	}
	assert.Contains(t, got, "550")

	// A server that echoes only the rejected line: the one with the code.
	got = s.redact(errors.New("554 5.6.0 bad line: Your code is "+code+"."), email)
	assert.NotContains(t, got, code)
	assert.Contains(t, got, "554 5.6.0 bad line")
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	s := newSender(t, Config{Port: port, Timeout: 2 * time.Second})
	start := time.Now()
	err = s.SendEmail(context.Background(), email)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(port))
}

func TestSilentServerTimesOut(t *testing.T) {
	port, _ := silentServer(t)
	s := newSender(t, Config{Port: port, Timeout: 200 * time.Millisecond})
	start := time.Now()
	err := s.SendEmail(context.Background(), email)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestContextCancelled(t *testing.T) {
	t.Run("while waiting for the server", func(t *testing.T) {
		port, accepted := silentServer(t)
		s := newSender(t, Config{Port: port, Timeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-accepted
			cancel()
		}()
		start := time.Now()
		err := s.SendEmail(ctx, email)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("before sending", func(t *testing.T) {
		be := &backend{}
		port := startServer(t, be, serverOpts{})
		s := newSender(t, Config{Port: port, TLS: NoTLS})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, s.SendEmail(ctx, email), context.Canceled)
		got, _ := be.got()
		assert.Empty(t, got)
	})
}

func TestInvalidRecipient(t *testing.T) {
	s := newSender(t, Config{})
	m := email
	m.To = "not an address"
	err := s.SendEmail(context.Background(), m)
	require.ErrorContains(t, err, "invalid recipient")
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantErr  string
		wantPort int
	}{
		{name: "starttls default port", cfg: Config{Host: "smtp.example.com", From: "a@example.com"}, wantPort: 587},
		{name: "implicit tls default port", cfg: Config{Host: "smtp.example.com", From: "a@example.com", TLS: ImplicitTLS}, wantPort: 465},
		{name: "none on 127.0.0.1", cfg: Config{Host: "127.0.0.1", From: "a@example.com", TLS: NoTLS}, wantPort: 25},
		{name: "none on localhost", cfg: Config{Host: "localhost", From: "a@example.com", TLS: NoTLS}, wantPort: 25},
		{name: "none on ::1", cfg: Config{Host: "[::1]", From: "a@example.com", TLS: NoTLS, Port: 2525}, wantPort: 2525},
		{name: "explicit port", cfg: Config{Host: "smtp.example.com", From: "a@example.com", Port: 2587}, wantPort: 2587},
		{name: "none on a remote host", cfg: Config{Host: "smtp.example.com", From: "a@example.com", TLS: NoTLS}, wantErr: "only allowed for a loopback host"},
		{name: "none on a private address", cfg: Config{Host: "10.0.0.1", From: "a@example.com", TLS: NoTLS}, wantErr: "loopback"},
		{name: "none on a localhost lookalike", cfg: Config{Host: "localhost.evil.example", From: "a@example.com", TLS: NoTLS}, wantErr: "loopback"},
		{name: "missing host", cfg: Config{From: "a@example.com"}, wantErr: "Host"},
		{name: "missing from", cfg: Config{Host: "smtp.example.com"}, wantErr: "From"},
		{name: "from with a name", cfg: Config{Host: "smtp.example.com", From: "Acme <a@example.com>"}, wantErr: "From"},
		{name: "from not an address", cfg: Config{Host: "smtp.example.com", From: "acme"}, wantErr: "From"},
		{name: "unknown mode", cfg: Config{Host: "smtp.example.com", From: "a@example.com", TLS: "ssl"}, wantErr: "unknown TLS mode"},
		{name: "port out of range", cfg: Config{Host: "smtp.example.com", From: "a@example.com", Port: 70000}, wantErr: "Port"},
		{name: "username without password", cfg: Config{Host: "smtp.example.com", From: "a@example.com", Username: "u"}, wantErr: "together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPort, s.cfg.Port)
			assert.Equal(t, 10*time.Second, s.cfg.Timeout)
			assert.Equal(t, uint16(tls.VersionTLS12), s.tls.MinVersion)
		})
	}
}

func TestNewDoesNotChangeCallersTLSConfig(t *testing.T) {
	tc := &tls.Config{}
	s, err := New(Config{Host: "smtp.example.com", From: "a@example.com", TLSConfig: tc})
	require.NoError(t, err)
	assert.Equal(t, "smtp.example.com", s.tls.ServerName)
	assert.Empty(t, tc.ServerName)
}
