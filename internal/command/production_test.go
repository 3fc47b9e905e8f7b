package command_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycsig"
)

// mailbox is a real SMTP server on loopback (go-smtp) that keeps what it is
// sent, and requires AUTH PLAIN with user and pass when user is set.
type mailbox struct {
	user, pass string

	mu   sync.Mutex
	mail []string // each message's recipients and data
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

func (m *mailbox) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mail...)
}

type mailSession struct {
	m      *mailbox
	authed bool
	to     []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.m.user || pass != s.m.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if s.m.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.mail = append(s.m.mail, "To: "+strings.Join(s.to, ",")+"\n"+string(data))
	s.m.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T, user, pass string) (*mailbox, string) {
	t.Helper()
	m := &mailbox{user: user, pass: pass}
	srv := smtp.NewServer(m)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only, as Deputy's "none" mode
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return m, port
}

// smsGateway is an HTTP SMS gateway that keeps the forms it is posted and
// requires a bearer token.
type smsGateway struct {
	mu    sync.Mutex
	forms []map[string]string
}

func startSMSGateway(t *testing.T, token string) (*smsGateway, string) {
	t.Helper()
	g := &smsGateway{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		g.mu.Lock()
		g.forms = append(g.forms, form)
		g.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func (g *smsGateway) sent() []map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]string(nil), g.forms...)
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// TestServeProduction runs `deputy serve` outside sandbox mode against a real
// SMTP server and an HTTP SMS gateway: codes are random, go out by SMS and
// email, and work; the sandbox endpoints do not exist; no secret reaches the log.
func TestServeProduction(t *testing.T) {
	const (
		smtpPass     = "smtp-Secret-9"
		gatewayToken = "gw-Secret-Token-7"
	)
	mail, smtpPort := startMailbox(t, "deputy", smtpPass)
	gateway, gatewayURL := startSMSGateway(t, gatewayToken)
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	t.Setenv("DEPUTY_SMTP_PASSWORD", smtpPass)
	t.Setenv("DEPUTY_SMS_GATEWAY_TOKEN", gatewayToken)
	s := startServe(t, "--db", db,
		"--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test", "--smtp-username", "deputy",
		"--sms-gateway-url", gatewayURL+"/messages", "--sms-from", "Deputy", "--sms-gateway-fields", "to, sender ,text")
	key := p["apiKey"]
	_, token := signUp(t, s, key, "ada@acme.test")

	// SMS enrolment: the code goes through the gateway, in its field names.
	status, body := s.call(t, "POST", "/multi/authentication_factors/otp/SMS", key, token, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	sms := gateway.sent()
	require.Len(t, sms, 1)
	assert.Equal(t, "+447700900123", sms[0]["to"])
	assert.Equal(t, "Deputy", sms[0]["sender"])
	smsCode := sixDigits.FindString(sms[0]["text"])
	require.NotEmpty(t, smsCode, "a code in %q", sms[0]["text"])
	status, body = s.call(t, "POST", "/multi/authentication_factors/otp/SMS/verify", key, token, map[string]string{"verificationCode": smsCode})
	assert.Equal(t, http.StatusNoContent, status, "the texted code enrols the factor: %s", body)

	// Lost password: the code goes by email through the SMTP server.
	status, body = s.call(t, "POST", "/multi/passwords/lost_password/start", key, "", map[string]string{"email": "ada@acme.test"})
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	// The email goes out after the answer, so that known and unknown addresses take the same time.
	require.Eventually(t, func() bool { return len(mail.messages()) > 0 }, 10*time.Second, 10*time.Millisecond)
	msgs := mail.messages()
	require.Len(t, msgs, 1)
	assert.True(t, strings.HasPrefix(msgs[0], "To: ada@acme.test\n"), msgs[0])
	assert.Contains(t, msgs[0], "no-reply@deputy.test")
	resetCode := sixDigits.FindString(msgs[0][strings.Index(msgs[0], "Use the code"):])
	require.NotEmpty(t, resetCode, "a code in the email")
	status, body = s.call(t, "POST", "/multi/passwords/lost_password/resume", key, "", map[string]any{
		"nonce": resetCode, "email": "ada@acme.test", "newPassword": map[string]string{"value": "N3w-Secret!"}})
	assert.Equal(t, http.StatusOK, status, "the emailed code resets the password: %s", body)
	status, body = s.call(t, "POST", "/multi/login_with_password", key, "", map[string]any{"email": "ada@acme.test", "password": map[string]string{"value": "N3w-Secret!"}})
	assert.Equal(t, http.StatusOK, status, "%s", body)

	for _, path := range []string{"/multi/sandbox/outbox", "/multi/sandbox/clock"} {
		status, _ = s.call(t, "GET", path, key, "", nil)
		assert.Equal(t, http.StatusNotFound, status, "%s exists only in sandbox mode", path)
	}
	logs := s.logs.String()
	for _, secret := range []string{smtpPass, gatewayToken, key, token, "N3w-Secret!"} {
		assert.NotContains(t, logs, secret)
	}
	// A six-digit code, as a number of its own: the digits of a timestamp's
	// nanoseconds may hold it by chance.
	for _, code := range []string{smsCode, resetCode} {
		assert.NotRegexp(t, `(^|\D)`+code+`(\D|$)`, logs)
	}
	assert.NotContains(t, logs, "plain HTTP", "on loopback, plain HTTP is not worth a warning")
}

// TestServeWarnsOfPlainHTTPBeyondLoopback: outside sandbox mode, serving plain
// HTTP on an address other machines reach is logged as a warning.
func TestServeWarnsOfPlainHTTPBeyondLoopback(t *testing.T) {
	_, smtpPort := startMailbox(t, "", "")
	_, gatewayURL := startSMSGateway(t, "tok")
	s := startServe(t, "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "0.0.0.0:0",
		"--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test",
		"--sms-gateway-url", gatewayURL, "--sms-gateway-token", "tok")
	assert.Contains(t, s.logs.String(), "serving plain HTTP beyond this machine")
	assert.Contains(t, s.logs.String(), `"level":"WARN"`)
}

// TestServeWarnsOfPlainHTTPServicesBeyondLoopback: an SMS gateway or KYC
// service reached over plain HTTP on another machine is logged as a warning
// (codes, personal details and the gateway's credentials cross the network
// in the clear); on this machine it is not.
func TestServeWarnsOfPlainHTTPServicesBeyondLoopback(t *testing.T) {
	_, smtpPort := startMailbox(t, "", "")
	for _, beyond := range []bool{false, true} {
		host := "127.0.0.1"
		if beyond {
			host = "192.0.2.1" // nothing is sent while the test runs
		}
		s := startServe(t, "--db", filepath.Join(t.TempDir(), "deputy.db"),
			"--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test",
			"--sms-gateway-url", "http://"+host+"/messages", "--sms-gateway-token", "tok",
			"--kyc-webhook-url", "http://"+host+"/cases", "--kyc-webhook-secret", strings.Repeat("k", 32))
		for _, flag := range []string{"--sms-gateway-url", "--kyc-webhook-url"} {
			if beyond {
				assert.Contains(t, s.logs.String(), flag+" is plain HTTP beyond this machine")
			} else {
				assert.NotContains(t, s.logs.String(), flag+" is plain HTTP", "on loopback")
			}
		}
	}
}

// TestServeWarnsOfSandboxBeyondLoopback: sandbox mode on an address other
// machines reach is logged as a warning (every code there is 123456); on
// loopback it is not.
func TestServeWarnsOfSandboxBeyondLoopback(t *testing.T) {
	s := startServe(t, "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--addr", "0.0.0.0:0")
	assert.Contains(t, s.logs.String(), "sandbox mode beyond this machine")
	assert.Contains(t, s.logs.String(), `"level":"WARN"`)
	s = startServe(t, "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"))
	assert.NotContains(t, s.logs.String(), "sandbox mode beyond this machine")
}

// TestServeProductionNeedsSenders: outside sandbox mode, serve refuses to start
// without both senders, naming what is missing, and refuses bad sender
// settings, before it creates anything.
func TestServeProductionNeedsSenders(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--smtp-host", "--sms-gateway-url", "--sandbox"}},
		{[]string{"--smtp-host", "127.0.0.1", "--smtp-tls", "none", "--smtp-from", "a@b.test"}, []string{"--sms-gateway-url"}},
		{[]string{"--sms-gateway-url", "https://sms.example/send"}, []string{"--smtp-host"}},
		{[]string{"--smtp-host", "smtp.example", "--smtp-from", "Deputy <a@b.test>"}, []string{"--smtp-*", "bare email address"}},
		{[]string{"--smtp-host", "smtp.example", "--smtp-tls", "none", "--smtp-from", "a@b.test"}, []string{"--smtp-*", "loopback"}},
		{[]string{"--sms-gateway-url", "ftp://sms.example"}, []string{"--sms-gateway-*", "http(s)"}},
		{[]string{"--sms-gateway-url", "https://sms.example", "--sms-gateway-fields", "to,,text"}, []string{"--sms-gateway-fields", "three names"}},
		{[]string{"--kyc-webhook-secret", strings.Repeat("k", 32)}, []string{"--kyc-webhook-secret needs --kyc-webhook-url"}},
		{[]string{"--kyc-webhook-url", "https://kyc.example/cases", "--kyc-webhook-secret", "short"}, []string{"--kyc-webhook-*", "at least 32"}},
		{[]string{"--kyc-webhook-url", "kyc.example", "--kyc-webhook-secret", strings.Repeat("k", 32)}, []string{"--kyc-webhook-*", "http(s)"}},
	} {
		_, err := run(t, 10*time.Second, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tt.args...)...)
		if assert.Error(t, err, "%v", tt.args) {
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w, "%v", tt.args)
			}
		}
	}
	_, err := os.Stat(db)
	assert.ErrorIs(t, err, os.ErrNotExist, "no database was created")
}

// TestServeSandboxIgnoresSenders: in sandbox mode messages stay in the outbox
// even when senders are configured, and the log says so.
func TestServeSandboxIgnoresSenders(t *testing.T) {
	mail, smtpPort := startMailbox(t, "", "")
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test")
	assert.Contains(t, s.logs.String(), "sandbox mode keeps messages in the outbox")
	key := p["apiKey"]
	status, body := s.call(t, "POST", "/multi/consumers", key, "", map[string]any{
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": "ada@acme.test",
			"mobile":      map[string]string{"countryCode": "+44", "number": "7700900123"},
			"dateOfBirth": map[string]int{"year": 1990, "month": 12, "day": 10}, "address": map[string]string{"country": "GB"}},
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var consumer struct{ ID struct{ ID string } }
	require.NoError(t, json.Unmarshal(body, &consumer))
	status, body = s.call(t, "POST", "/multi/passwords/"+consumer.ID.ID+"/create", key, "", map[string]any{"password": map[string]string{"value": "Sup3r-Secret"}})
	require.Equal(t, http.StatusOK, status, "%s", body)
	status, body = s.call(t, "POST", "/multi/passwords/lost_password/start", key, "", map[string]string{"email": "ada@acme.test"})
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	status, body = s.call(t, "GET", "/multi/sandbox/outbox", key, "", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), "ada@acme.test", "the email is in the outbox")
	assert.Empty(t, mail.messages(), "and was not sent")
}

// kycService is the operator's KYC service: it takes the signed cases Deputy
// posts, and can send its decision back to Deputy's callback, signed.
type kycService struct {
	secret []byte

	mu    sync.Mutex
	cases []map[string]any
}

func (k *kycService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if kycsig.Verify(k.secret, r.Header.Get(kycsig.Header), body, time.Now()) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var c map[string]any
	if json.Unmarshal(body, &c) != nil {
		http.Error(w, "bad case", http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	k.cases = append(k.cases, c)
	k.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// decide sends the decision on ref to the server at s.
func (k *kycService) decide(t *testing.T, s *serving, key, ref, status string) int {
	t.Helper()
	body := []byte(`{"reference":"` + ref + `","status":"` + status + `"}`)
	req, err := http.NewRequest("POST", "http://"+s.addr+"/multi/kyc/callback", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	req.Header.Set(kycsig.Header, kycsig.Sign(k.secret, time.Now(), body))
	res, err := s.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// TestServeProductionKYC takes an authorised user through KYC outside sandbox
// mode: email verified with the emailed code, mobile with the texted one, the
// case posted to the KYC service, its signed decision taken at the callback.
func TestServeProductionKYC(t *testing.T) {
	const kycSecret = "kyc-shared-secret-0123456789abcdef"
	mail, smtpPort := startMailbox(t, "", "")
	gateway, gatewayURL := startSMSGateway(t, "tok")
	kyc := &kycService{secret: []byte(kycSecret)}
	kycSrv := httptest.NewServer(kyc)
	t.Cleanup(kycSrv.Close)
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	t.Setenv("DEPUTY_KYC_WEBHOOK_SECRET", kycSecret)
	s := startServe(t, "--db", db,
		"--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test",
		"--sms-gateway-url", gatewayURL, "--sms-gateway-token", "tok", "--kyc-webhook-url", kycSrv.URL+"/cases")
	key := p["apiKey"]
	// want checks a call's status and returns its body: want(200)(s.call(...)).
	want := func(code int) func(int, []byte) []byte {
		return func(status int, body []byte) []byte {
			t.Helper()
			require.Equal(t, code, status, "%s", body)
			return body
		}
	}
	lastCode := func(text string) string {
		t.Helper()
		code := sixDigits.FindString(text)
		require.NotEmpty(t, code, "a code in %q", text)
		return code
	}
	idOf := func(body []byte) string {
		var v struct{ ID json.RawMessage }
		require.NoError(t, json.Unmarshal(body, &v))
		var nested struct{ ID string }
		if json.Unmarshal(v.ID, &nested) == nil && nested.ID != "" {
			return nested.ID
		}
		var flat string
		require.NoError(t, json.Unmarshal(v.ID, &flat))
		return flat
	}
	// enrolSMS enrols token's user for SMS with the code the gateway got.
	enrolSMS := func(token string) {
		t.Helper()
		want(http.StatusNoContent)(s.call(t, "POST", "/multi/authentication_factors/otp/SMS", key, token, nil))
		sent := gateway.sent()
		want(http.StatusNoContent)(s.call(t, "POST", "/multi/authentication_factors/otp/SMS/verify", key, token, map[string]string{"verificationCode": lastCode(sent[len(sent)-1]["Body"])}))
	}

	root := idOf(want(http.StatusOK)(s.call(t, "POST", "/multi/corporates", key, "", map[string]any{
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": "ada@acme.test", "companyPosition": "DIRECTOR",
			"mobile": map[string]string{"countryCode": "+44", "number": "7700900123"}},
		"company":   map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP"})))
	var signedIn struct{ Token string }
	require.NoError(t, json.Unmarshal(want(http.StatusOK)(s.call(t, "POST", "/multi/passwords/"+root+"/create", key, "", map[string]any{"password": map[string]string{"value": "Sup3r-Secret"}})), &signedIn))
	rootToken := signedIn.Token
	enrolSMS(rootToken) // which also steps the session up

	bea := idOf(want(http.StatusOK)(s.call(t, "POST", "/multi/users", key, rootToken, map[string]any{"name": "Bea", "surname": "Smith", "email": "bea@acme.test",
		"mobile": map[string]string{"countryCode": "+44", "number": "7700900456"}})))
	require.NoError(t, json.Unmarshal(want(http.StatusOK)(s.call(t, "POST", "/multi/passwords/"+bea+"/create", key, "", map[string]any{"password": map[string]string{"value": "Sup3r-Secret2"}})), &signedIn))
	beaToken := signedIn.Token
	want(http.StatusNoContent)(s.call(t, "POST", "/multi/users/verification/email/send", key, "", map[string]string{"email": "bea@acme.test"}))
	msgs := mail.messages()
	require.NotEmpty(t, msgs)
	emailCode := lastCode(msgs[len(msgs)-1][strings.Index(msgs[len(msgs)-1], "Your code to confirm"):])
	want(http.StatusNoContent)(s.call(t, "POST", "/multi/users/verification/email/verify", key, "", map[string]string{"email": "bea@acme.test", "verificationCode": emailCode}))
	enrolSMS(beaToken)

	var started struct{ Reference string }
	require.NoError(t, json.Unmarshal(want(http.StatusOK)(s.call(t, "POST", "/multi/users/kyc", key, beaToken, nil)), &started))
	require.Len(t, kyc.cases, 1, "the case reached the KYC service")
	assert.Equal(t, started.Reference, kyc.cases[0]["reference"])
	assert.Equal(t, "bea@acme.test", kyc.cases[0]["user"].(map[string]any)["email"])

	wrong := &kycService{secret: []byte("another-secret-0123456789abcdefgh")}
	assert.Equal(t, http.StatusUnauthorized, wrong.decide(t, s, key, started.Reference, "APPROVED"), "a decision signed with another secret")
	assert.Equal(t, http.StatusNoContent, kyc.decide(t, s, key, started.Reference, "APPROVED"))
	var status struct {
		KYC struct{ Status, Reference string }
	}
	require.NoError(t, json.Unmarshal(want(http.StatusOK)(s.call(t, "GET", "/multi/users/"+bea+"/status", key, rootToken, nil)), &status))
	assert.Equal(t, "APPROVED", status.KYC.Status)
	assert.NotContains(t, s.logs.String(), kycSecret)
}

// TestServeKeepsDatabaseToOneMode: a database once served in sandbox mode
// holds invites and codes that are 123456, plain-http links and expiries of
// a moved clock, so `deputy serve` outside sandbox mode refuses it; one once
// served outside sandbox mode holds real users, whose codes sandbox mode
// would make 123456, so `deputy serve --sandbox` refuses it. Operator
// commands still manage both.
func TestServeKeepsDatabaseToOneMode(t *testing.T) {
	_, smtpPort := startMailbox(t, "", "")
	_, gatewayURL := startSMSGateway(t, "tok")
	production := []string{"--smtp-host", "127.0.0.1", "--smtp-port", smtpPort, "--smtp-tls", "none", "--smtp-from", "no-reply@deputy.test",
		"--sms-gateway-url", gatewayURL, "--sms-gateway-token", "tok"}
	serve := func(db string, args ...string) error {
		_, err := run(t, 30*time.Second, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, args...)...)
		return err
	}

	sandbox := filepath.Join(t.TempDir(), "deputy.db")
	createProgramme(t, sandbox)
	startServe(t, "--sandbox", "--db", sandbox).stop()
	require.ErrorIs(t, serve(sandbox, production...), core.ErrSandboxStore, "production refuses a sandbox's database")
	_, err := run(t, 30*time.Second, "programme", "create", "--db", sandbox, "--name", "Second")
	require.NoError(t, err, "operator commands still manage it")
	startServe(t, "--sandbox", "--db", sandbox).stop()

	real := filepath.Join(t.TempDir(), "deputy.db")
	createProgramme(t, real)
	startServe(t, append([]string{"--db", real}, production...)...).stop()
	require.ErrorIs(t, serve(real, "--sandbox"), core.ErrProductionStore, "the sandbox refuses production's database")
}
