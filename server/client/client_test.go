package client_test

// Tests of the Go client against a real in-process Deputy (internal/testserver:
// bbolt, core in sandbox mode, the HTTP API on loopback). The few answers a
// sandbox Deputy never gives (429, 5xx, a proxy's HTML page) come from a stub
// httptest.Server.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/server/client"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

const (
	testPassword = "Str0ng-Passw0rd" // satisfies the default (Weavr) password profile
	sandboxCode  = "123456"          // every one-time code in sandbox mode
	rootMobile   = "+447700900123"
)

// deputy is a running sandbox Deputy with a client of its programme. On
// PostgreSQL it is two replicas of one database, and the client's requests
// alternate between them, as behind a load balancer: each test is then a
// Weavr client's journey across replicas.
type deputy struct {
	t        *testing.T
	inst     *testserver.Instance
	replicas []*testserver.Instance // inst, and on PostgreSQL its replica
	c        *client.Client
}

func start(t *testing.T) *deputy { return startReplicas(t, true) }

// startOne is start without a second replica, for the tests that move the
// sandbox clock: each process has its own (see the README's sandbox notes).
func startOne(t *testing.T) *deputy { return startReplicas(t, false) }

func startReplicas(t *testing.T, replicated bool) *deputy {
	t.Helper()
	inst := testserver.Start(t, testserver.Options{})
	d := &deputy{t: t, inst: inst, replicas: []*testserver.Instance{inst}}
	if replicated && teststore.OnPostgres() {
		d.replicas = append(d.replicas, inst.Replica(t))
	}
	c, err := client.New(inst.URL, inst.APIKey, client.WithHTTPClient(&http.Client{Transport: alternate(t, d.replicas)}))
	require.NoError(t, err)
	d.c = c
	return d
}

// alternate sends each request to the next of replicas in turn, and
// validates every answer against Deputy's description and, for Weavr's
// operations, Weavr's (apispec).
func alternate(t *testing.T, replicas []*testserver.Instance) http.RoundTripper {
	validated := apispec.NewValidator(t).Transport(nil)
	hosts := make([]string, len(replicas))
	for i, r := range replicas {
		u, err := url.Parse(r.URL)
		require.NoError(t, err)
		hosts[i] = u.Host
	}
	var next atomic.Uint64
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.URL.Host = hosts[(next.Add(1)-1)%uint64(len(hosts))]
		return validated.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// waitForMail lets every replica's background mail land.
func (d *deputy) waitForMail() {
	for _, r := range d.replicas {
		r.Service.WaitForMail()
	}
}

func corporateCreate(email string) client.CorporateCreate {
	return client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: email,
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	}
}

// corporate creates a corporate whose root user has testPassword and returns
// the root user's id and session.
func (d *deputy) corporate(email string) (string, *client.Session) {
	d.t.Helper()
	ctx := context.Background()
	corp, err := d.c.CreateCorporate(ctx, corporateCreate(email))
	require.NoError(d.t, err)
	pw, err := d.c.CreatePassword(ctx, corp.RootUser.ID.ID, testPassword)
	require.NoError(d.t, err)
	return corp.RootUser.ID.ID, d.c.Session(pw.Token)
}

// enrolledRoot creates a corporate whose root user has an active SMS factor and
// returns the root's stepped-up session.
func (d *deputy) enrolledRoot(email string) *client.Session {
	d.t.Helper()
	ctx := context.Background()
	_, s := d.corporate(email)
	require.NoError(d.t, s.EnrolSMS(ctx))
	require.NoError(d.t, s.VerifyEnrolSMS(ctx, sandboxCode))
	return s
}

// login signs in with testPassword.
func (d *deputy) login(email string) *client.Session {
	d.t.Helper()
	l, err := d.c.LoginWithPassword(context.Background(), email, testPassword)
	require.NoError(d.t, err)
	return d.c.Session(l.Token)
}

// apiError returns the *client.Error inside err, failing the test if there is none.
func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var e *client.Error
	require.ErrorAs(t, err, &e)
	return e
}

var sentinels = map[string]error{
	"ErrInvalid": client.ErrInvalid, "ErrUnauthorized": client.ErrUnauthorized, "ErrForbidden": client.ErrForbidden,
	"ErrStepUpRequired": client.ErrStepUpRequired, "ErrNotFound": client.ErrNotFound, "ErrConflict": client.ErrConflict,
	"ErrLocked": client.ErrLocked, "ErrRateLimited": client.ErrRateLimited, "ErrServer": client.ErrServer,
}

// wantClass fails unless err matches want and no other sentinel.
func wantClass(t *testing.T, err error, want error) {
	t.Helper()
	require.Error(t, err)
	for name, s := range sentinels {
		assert.Equal(t, s == want, errors.Is(err, s), "errors.Is(%q, %s)", err, name)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, url, key, wantErr string
	}{
		{"http", "http://127.0.0.1:8080", "dsk_x", ""},
		{"https with prefix and slash", "https://auth.example.com/deputy/", "dsk_x", ""},
		{"empty", "", "dsk_x", "scheme must be http or https"},
		{"no scheme", "127.0.0.1:8080", "dsk_x", "base URL"},
		{"ftp", "ftp://example.com", "dsk_x", "scheme must be http or https"},
		{"no host", "http://", "dsk_x", "no host"},
		{"credentials", "https://user:pw@example.com", "dsk_x", "must not carry credentials"},
		{"query", "https://example.com/?a=b", "dsk_x", "query or fragment"},
		{"fragment", "https://example.com/#x", "dsk_x", "query or fragment"},
		{"no key", "https://example.com", " ", "api key is required"},
		{"key with newline", "https://example.com", "dsk_x\r\nX-Evil: 1", "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.url, tt.key)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, strings.TrimSuffix(tt.url, "/"), c.BaseURL())
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, c)
			assert.NotContains(t, err.Error(), "pw@", "the URL's password is not echoed")
		})
	}
}

// TestRequestHeaders checks what goes on the wire, against a stub that records it.
func TestRequestHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(stub.Close)
	var requests int
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests++
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := client.New(stub.URL+"/prefix/", "dsk_key", client.WithHTTPClient(hc), client.WithUserAgent("deputy-test/9"))
	require.NoError(t, err)
	ctx := context.Background()
	s := c.Session("dst_token")

	require.NoError(t, c.Healthz(ctx))
	require.NoError(t, s.SendInvite(ctx, "42", client.IdempotencyRef("ref-1")))
	require.NoError(t, s.EnrolSMS(ctx, client.IdempotencyRef("")))
	_, err = s.ListUsers(ctx, client.UserFilter{Offset: 5, Limit: 10, Active: new(false), Email: "a+b@x.test", Tag: "t", Roles: []string{"ADMIN", "CARD_ASSIGNEE"}})
	require.NoError(t, err)
	require.NoError(t, s.ActivateUser(ctx, "a/b?c"))

	assert.Equal(t, 5, requests, "WithHTTPClient's client sends every request")
	require.Len(t, got, 5)
	for _, r := range got {
		assert.Equal(t, "deputy-test/9", r.Header.Get("User-Agent"))
		assert.True(t, strings.HasPrefix(r.URL.Path, "/prefix/"), "path %q keeps the base URL's prefix", r.URL.Path)
	}
	health, invite, enrol, list, activate := got[0], got[1], got[2], got[3], got[4]
	assert.Empty(t, health.Header.Get("api-key"), "health probes are public")
	assert.Empty(t, health.Header.Get("Authorization"))

	assert.Equal(t, "/prefix/multi/users/42/invite", invite.URL.Path)
	assert.Equal(t, "dsk_key", invite.Header.Get("api-key"))
	assert.Equal(t, "Bearer dst_token", invite.Header.Get("Authorization"))
	assert.Equal(t, "ref-1", invite.Header.Get("idempotency-ref"))
	assert.Empty(t, invite.Header.Get("Content-Type"), "no body, no content type")

	_, present := enrol.Header["Idempotency-Ref"]
	assert.False(t, present, "an empty ref sends no header")

	assert.Equal(t, "GET", list.Method)
	assert.Equal(t, "active=false&email=a%2Bb%40x.test&limit=10&offset=5&roles=ADMIN&roles=CARD_ASSIGNEE&tag=t", list.URL.RawQuery)

	assert.Equal(t, "/prefix/multi/users/a%2Fb%3Fc/activate", activate.URL.EscapedPath(), "ids are one escaped path segment")
}

// A redirect is refused, not followed: it would take the api key, the
// device secret and a 307's body (the password) to wherever it points.
func TestRedirectsRefused(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	for _, opts := range [][]client.Option{nil, {client.WithHTTPClient(&http.Client{})}} {
		c, err := client.New(redirecting.URL, "dsk_key", opts...)
		require.NoError(t, err)
		_, err = c.LoginWithPassword(context.Background(), "ada@acme.test", "Str0ng-Passw0rd")
		require.ErrorContains(t, err, "the API does not redirect")
		assert.NotContains(t, err.Error(), "Str0ng-Passw0rd")
	}
	assert.Zero(t, elsewhere.Load(), "nothing reached the other server")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHealth(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	require.NoError(t, d.c.Healthz(ctx))
	require.NoError(t, d.c.Readyz(ctx))
}

// TestConcurrentUse shares one client and one session between goroutines.
func TestConcurrentUse(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	s := d.enrolledRoot("root@acme.test")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.Roles(ctx); err != nil {
				errs <- err
			}
			if _, err := d.c.Session("dst_nope").Roles(ctx); !errors.Is(err, client.ErrUnauthorized) {
				errs <- fmt.Errorf("goroutine %d: %v, want ErrUnauthorized", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIdentitiesAndSignIn(t *testing.T) {
	d := start(t)
	ctx := context.Background()

	in := corporateCreate("root@acme.test")
	in.RootUser.CompanyPosition = "DIRECTOR"
	in.RootUser.DateOfBirth = &client.Date{Year: 1815, Month: 12, Day: 10}
	in.Company.Type = "LLC"
	in.Company.RegistrationCountry = "GB"
	in.Company.BusinessAddress = &client.Address{AddressLine1: "1 Analytical Row", City: "London", PostCode: "N1 1AA", Country: "GB"}
	in.Industry, in.BaseCurrency, in.Tag = "FINANCE", "GBP", "pilot"
	corp, err := d.c.CreateCorporate(ctx, in)
	require.ErrorIs(t, err, client.ErrInvalid, "1815 is before the API's earliest date of birth")
	assert.Equal(t, []client.FieldError{{Field: "rootUser.dateOfBirth.year", Reason: "RANGE", Params: []string{"1900", "2100"}}}, apiError(t, err).Fields)
	assert.Nil(t, corp)

	in.RootUser.DateOfBirth.Year = 1985
	before := d.inst.Clock.Now().Truncate(time.Millisecond)
	corp, err = d.c.CreateCorporate(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, client.IdentityCorporate, corp.ID.Type)
	assert.Equal(t, corp.ID, corp.RootUser.ID)
	assert.Equal(t, "Acme Ltd", corp.Company.Name)
	assert.Equal(t, "GB", corp.Company.CountryOfRegistration)
	assert.Equal(t, in.Company.BusinessAddress, corp.Company.BusinessAddress)
	assert.Equal(t, "DIRECTOR", corp.RootUser.CompanyPosition)
	assert.Equal(t, &client.Mobile{CountryCode: "+44", Number: "7700900123"}, corp.RootUser.Mobile)
	assert.Equal(t, &client.Date{Year: 1985, Month: 12, Day: 10}, corp.RootUser.DateOfBirth)
	assert.Equal(t, "FINANCE", corp.Industry)
	assert.Equal(t, "pilot", corp.Tag)
	require.NotNil(t, corp.RootUser.PasswordAlreadySet)
	assert.False(t, *corp.RootUser.PasswordAlreadySet)
	assert.WithinRange(t, corp.CreatedAt, before, d.inst.Clock.Now())

	pw, err := d.c.CreatePassword(ctx, corp.RootUser.ID.ID, testPassword)
	require.NoError(t, err)
	assert.NotEmpty(t, pw.Token)
	assert.Equal(t, corp.ID, pw.IdentityID)
	_, err = d.c.CreatePassword(ctx, corp.RootUser.ID.ID, testPassword)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "PASSWORD_ALREADY_CREATED", apiError(t, err).Code)

	login, err := d.c.LoginWithPassword(ctx, "root@acme.test", testPassword)
	require.NoError(t, err)
	assert.Equal(t, "AUTH", login.TokenType)
	assert.Equal(t, corp.ID, login.Identity)
	assert.Equal(t, client.CredentialID{Type: client.CredentialsRoot, ID: corp.RootUser.ID.ID}, login.Credentials)
	assert.NotEqual(t, pw.Token, login.Token)

	s := d.c.Session(login.Token)
	assert.Equal(t, login.Token, s.Token())
	got, err := s.Corporate(ctx)
	require.NoError(t, err)
	assert.Equal(t, corp.ID, got.ID)
	assert.Equal(t, "Acme Ltd", got.Company.Name)
	assert.Nil(t, got.RootUser.PasswordAlreadySet, "only the creation answer says passwordAlreadySet")
	assert.Equal(t, corp.CreatedAt, got.CreatedAt)
	_, err = s.Consumer(ctx)
	wantClass(t, err, client.ErrForbidden)

	cons, err := d.c.CreateConsumer(ctx, client.ConsumerCreate{
		RootUser: client.ConsumerRootUserCreate{Name: "Charles", Surname: "Babbage", Email: "charles@home.test",
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900999"}, Occupation: "STUDENT",
			DateOfBirth: &client.Date{Year: 1991, Month: 12, Day: 26},
			Address:     &client.Address{Country: "GB"}, Nationality: "GB", PlaceOfBirth: "London"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	assert.Equal(t, client.IdentityConsumer, cons.ID.Type)
	assert.Equal(t, "STUDENT", cons.RootUser.Occupation)
	assert.Equal(t, &client.Address{Country: "GB"}, cons.RootUser.Address)
	assert.False(t, cons.CreatedAt.IsZero())
	cpw, err := d.c.CreatePassword(ctx, cons.RootUser.ID.ID, testPassword)
	require.NoError(t, err)
	cs := d.c.Session(cpw.Token)
	gotCons, err := cs.Consumer(ctx)
	require.NoError(t, err)
	assert.Equal(t, cons.ID, gotCons.ID)
	assert.Equal(t, "London", gotCons.RootUser.PlaceOfBirth)
	assert.Equal(t, "GBP", gotCons.BaseCurrency)
	_, err = cs.Corporate(ctx)
	wantClass(t, err, client.ErrForbidden)

	require.NoError(t, s.Logout(ctx))
	_, err = s.Corporate(ctx)
	wantClass(t, err, client.ErrUnauthorized)
	require.NoError(t, d.c.Session(pw.Token).Logout(ctx), "the password's session is a separate one")
}

func TestPasswords(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	_, s := d.corporate("root@acme.test")

	require.NoError(t, d.c.ValidatePassword(ctx, "An0ther-Passw0rd"))
	err := d.c.ValidatePassword(ctx, "short")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "PASSWORD_TOO_SHORT", apiError(t, err).Code)
	assert.Equal(t, "validate password: password too short", err.Error())
	assert.NotContains(t, err.Error(), "short\"", "never the password")

	_, _, err = s.UpdatePassword(ctx, "Wr0ng-Passw0rd", "An0ther-Passw0rd")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "PASSWORD_INCORRECT", apiError(t, err).Code)

	token, s2, err := s.UpdatePassword(ctx, testPassword, "An0ther-Passw0rd")
	require.NoError(t, err)
	assert.Equal(t, token, s2.Token())
	assert.NotEqual(t, s.Token(), token)
	_, err = s.Factors(ctx)
	wantClass(t, err, client.ErrUnauthorized)
	_, err = s2.Factors(ctx)
	require.NoError(t, err)

	require.NoError(t, d.c.LostPasswordStart(ctx, "root@acme.test"))
	require.NoError(t, d.c.LostPasswordStart(ctx, "nobody@acme.test"), "unknown addresses are not revealed")
	// The reset email and the notice of the password change above go out in
	// the background, in either order.
	msgs, err := d.c.Outbox(ctx, 2)
	require.NoError(t, err)
	msgs = slices.DeleteFunc(msgs, func(m client.Message) bool { return !strings.Contains(m.Subject, "reset your password") })
	require.Len(t, msgs, 1)
	assert.Equal(t, "EMAIL", msgs[0].Channel)
	assert.Equal(t, "root@acme.test", msgs[0].To)
	assert.Contains(t, msgs[0].Text, sandboxCode)

	_, err = d.c.LostPasswordResume(ctx, "root@acme.test", "000000", "Th1rd-Passw0rd")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "INVALID_NONCE_OR_EMAIL", apiError(t, err).Code)
	token, err = d.c.LostPasswordResume(ctx, "root@acme.test", sandboxCode, "Th1rd-Passw0rd")
	require.NoError(t, err)
	_, err = d.c.Session(token).Factors(ctx)
	require.NoError(t, err)
	_, err = s2.Factors(ctx)
	wantClass(t, err, client.ErrUnauthorized)
	_, err = d.c.LoginWithPassword(ctx, "root@acme.test", "Th1rd-Passw0rd")
	require.NoError(t, err)
}

func TestSCA(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	_, s := d.corporate("root@acme.test")

	fs, err := s.Factors(ctx)
	require.NoError(t, err)
	assert.Equal(t, []client.Factor{}, fs, "none: empty, not nil, which comes only with an error")

	require.NoError(t, s.EnrolSMS(ctx))
	fs, err = s.Factors(ctx)
	require.NoError(t, err)
	assert.Equal(t, []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorPendingVerification}}, fs)
	sms, err := d.c.Outbox(ctx, 1)
	require.NoError(t, err)
	require.Len(t, sms, 1)
	assert.Equal(t, client.Message{Channel: "SMS", To: rootMobile, Text: sms[0].Text, CreatedAt: sms[0].CreatedAt}, sms[0])
	assert.Contains(t, sms[0].Text, sandboxCode)
	assert.False(t, sms[0].CreatedAt.IsZero())

	err = s.VerifyEnrolSMS(ctx, "000000")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "VERIFICATION_CODE_INVALID", apiError(t, err).Code)
	assert.Equal(t, "verify SMS enrolment: verification code invalid", err.Error())
	require.NoError(t, s.VerifyEnrolSMS(ctx, sandboxCode))
	fs, err = s.Factors(ctx)
	require.NoError(t, err)
	assert.Equal(t, []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}, fs)

	// A fresh session has not stepped up.
	fresh := d.login("root@acme.test")
	user := client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test"}
	_, err = fresh.CreateUser(ctx, user)
	wantClass(t, err, client.ErrStepUpRequired)
	e := apiError(t, err)
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.Equal(t, client.CodeStepUpRequired, e.Code)
	assert.Equal(t, "step-up required", e.Error())
	assert.Equal(t, "create user: step-up required", err.Error())

	require.NoError(t, fresh.StepUpSMS(ctx))
	err = fresh.StepUpSMS(ctx)
	wantClass(t, err, client.ErrConflict)
	e = apiError(t, err)
	assert.Equal(t, "RETRY_IN_15SEC", e.Code)
	assert.Positive(t, e.RetryAfter, "the server says when a new code may be asked for")
	assert.LessOrEqual(t, e.RetryAfter, 15*time.Second)

	require.NoError(t, fresh.VerifyStepUpSMS(ctx, sandboxCode))
	err = fresh.VerifyStepUpSMS(ctx, sandboxCode)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "ALREADY_VERIFIED", apiError(t, err).Code)
	_, err = fresh.CreateUser(ctx, user)
	require.NoError(t, err)
}

func TestUsers(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	s := d.enrolledRoot("root@acme.test")

	roles, err := s.Roles(ctx)
	require.NoError(t, err)
	var names []string
	for _, r := range roles {
		assert.NotEmpty(t, r.ID)
		assert.NotEmpty(t, r.Description)
		names = append(names, r.Name)
	}
	assert.ElementsMatch(t, []string{client.RoleAdmin, client.RoleAccessManagement, client.RoleFundsManagement, client.RoleCardsManagement, client.RoleCardAssignee}, names)

	grace, err := s.CreateUser(ctx, client.UserCreate{
		Name: "Grace", Surname: "Hopper", Email: "grace@acme.test", Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"},
		DateOfBirth: &client.Date{Year: 1906, Month: 12, Day: 9}, Tag: "navy", CountryOfResidence: "US", Locale: "en-US", Brand: "Acme",
		Roles: []string{client.RoleAccessManagement},
	})
	require.NoError(t, err)
	assert.NotEmpty(t, grace.ID)
	assert.Equal(t, client.IdentityCorporate, grace.Identity.Type)
	assert.True(t, grace.Active)
	assert.Equal(t, []string{client.RoleAccessManagement}, grace.Roles)
	assert.Equal(t, "US", grace.CountryOfResidence)
	alan, err := s.CreateUser(ctx, client.UserCreate{Name: "Alan", Surname: "Turing", Email: "alan@acme.test", Roles: []string{client.RoleCardAssignee}})
	require.NoError(t, err)

	got, err := s.GetUser(ctx, grace.ID)
	require.NoError(t, err)
	assert.Equal(t, grace, got)

	page, err := s.ListUsers(ctx, client.UserFilter{})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Count)
	assert.Equal(t, 2, page.ResponseCount)
	assert.Equal(t, []client.User{*grace, *alan}, page.Users, "oldest first, root users not listed")
	for _, tt := range []struct {
		name   string
		filter client.UserFilter
		want   []string
	}{
		{"limit", client.UserFilter{Limit: 1}, []string{"Grace"}},
		{"offset", client.UserFilter{Offset: 1}, []string{"Alan"}},
		{"email", client.UserFilter{Email: "alan@acme.test"}, []string{"Alan"}},
		{"tag", client.UserFilter{Tag: "navy"}, []string{"Grace"}},
		{"roles", client.UserFilter{Roles: []string{client.RoleCardAssignee, client.RoleAdmin}}, []string{"Alan"}},
		{"inactive", client.UserFilter{Active: new(false)}, nil},
	} {
		page, err := s.ListUsers(ctx, tt.filter)
		require.NoError(t, err, tt.name)
		var names []string
		for _, u := range page.Users {
			names = append(names, u.Name)
		}
		assert.Equal(t, tt.want, names, tt.name)
		assert.Equal(t, len(tt.want), page.ResponseCount, tt.name)
	}

	updated, err := s.UpdateUser(ctx, alan.ID, client.UserPatch{Name: new("Alan M."), Tag: new("bletchley"), Roles: &[]string{client.RoleFundsManagement}})
	require.NoError(t, err)
	assert.Equal(t, "Alan M.", updated.Name)
	assert.Equal(t, "Turing", updated.Surname, "fields left nil are left alone")
	assert.Equal(t, "bletchley", updated.Tag)
	assert.Equal(t, []string{client.RoleFundsManagement}, updated.Roles)
	updated, err = s.UpdateUser(ctx, alan.ID, client.UserPatch{Roles: &[]string{}})
	require.NoError(t, err)
	assert.Empty(t, updated.Roles, "an empty slice removes every role")

	require.NoError(t, s.DeactivateUser(ctx, alan.ID))
	got, err = s.GetUser(ctx, alan.ID)
	require.NoError(t, err)
	assert.False(t, got.Active)
	page, err = s.ListUsers(ctx, client.UserFilter{Active: new(false)})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Count)
	require.NoError(t, s.ActivateUser(ctx, alan.ID))
	got, err = s.GetUser(ctx, alan.ID)
	require.NoError(t, err)
	assert.True(t, got.Active)

	// Invite, then accept it as Grace would on the companion.
	st, err := s.UserStatus(ctx, grace.ID)
	require.NoError(t, err)
	assert.Equal(t, &client.UserStatus{}, st, "a new user: nothing verified, set, locked or sent")
	d.waitForMail() // Alan's notices go in the background: let them land before the invite
	require.NoError(t, s.SendInvite(ctx, grace.ID))
	st, err = s.UserStatus(ctx, grace.ID)
	require.NoError(t, err)
	require.NotNil(t, st.Invite)
	assert.Equal(t, client.InvitePending, st.Invite.State)
	assert.WithinDuration(t, d.inst.Clock.Now().Add(30*24*time.Hour), st.Invite.ExpiresAt, time.Minute)
	mail, err := d.c.Outbox(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "grace@acme.test", mail[0].To)
	assert.NotEmpty(t, mail[0].Subject)

	err = d.c.InviteValidate(ctx, grace.ID, "000000")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "INVITE_OR_INVITE_CODE_INVALID", apiError(t, err).Code)
	require.NoError(t, d.c.InviteValidate(ctx, grace.ID, sandboxCode))
	token, err := d.c.InviteConsume(ctx, grace.ID, sandboxCode, testPassword, &client.Mobile{CountryCode: "+44", Number: "7700900457"})
	require.NoError(t, err)
	gs := d.c.Session(token)
	me, err := gs.GetUser(ctx, grace.ID)
	require.NoError(t, err)
	assert.Equal(t, &client.Mobile{CountryCode: "+44", Number: "7700900457"}, me.Mobile, "the invite's mobile replaces the old one")

	st, err = s.UserStatus(ctx, grace.ID)
	require.NoError(t, err)
	assert.True(t, st.PasswordSet)
	assert.Equal(t, client.InviteConsumed, st.Invite.State)
	err = s.SendInvite(ctx, grace.ID)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "INVITE_ALREADY_CONSUMED", apiError(t, err).Code)

	// Five wrong passwords lock Grace out; activating her lifts the lock.
	for i := range 5 {
		_, err = d.c.LoginWithPassword(ctx, "grace@acme.test", fmt.Sprintf("Wr0ng-Passw0rd-%d", i))
		wantClass(t, err, client.ErrForbidden)
	}
	st, err = s.UserStatus(ctx, grace.ID)
	require.NoError(t, err)
	assert.True(t, st.Locked)
	assert.WithinDuration(t, d.inst.Clock.Now().Add(30*time.Minute), st.LockedUntil, time.Minute)
	require.NoError(t, s.ActivateUser(ctx, grace.ID))
	st, err = s.UserStatus(ctx, grace.ID)
	require.NoError(t, err)
	assert.False(t, st.Locked)
	assert.True(t, st.LockedUntil.IsZero())
	gs = d.login("grace@acme.test")

	_, err = gs.GetUser(ctx, "999999")
	wantClass(t, err, client.ErrNotFound)
	assert.Equal(t, "get user: user not found", err.Error())
}

func TestEmailVerificationAndKYC(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	root := d.enrolledRoot("root@acme.test")
	u, err := root.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test",
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"}, Roles: []string{client.RoleFundsManagement}})
	require.NoError(t, err)
	require.NoError(t, root.SendInvite(ctx, u.ID))
	token, err := d.c.InviteConsume(ctx, u.ID, sandboxCode, testPassword, nil, client.IdempotencyRef(client.NewIdempotencyRef()))
	require.NoError(t, err)
	grace := d.c.Session(token)

	_, err = grace.StartKYC(ctx)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "EMAIL_NOT_VERIFIED", apiError(t, err).Code)

	err = d.c.EmailVerificationSend(ctx, "nobody@acme.test")
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "EMAIL_NOT_FOUND", apiError(t, err).Code)
	require.NoError(t, d.c.EmailVerificationSend(ctx, "grace@acme.test", client.IdempotencyRef(client.NewIdempotencyRef())))
	err = d.c.EmailVerify(ctx, "grace@acme.test", "000000")
	wantClass(t, err, client.ErrConflict)
	require.NoError(t, d.c.EmailVerify(ctx, "grace@acme.test", sandboxCode))

	_, err = grace.StartKYC(ctx)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "MOBILE_NOT_VERIFIED", apiError(t, err).Code)
	require.NoError(t, grace.EnrolSMS(ctx))
	require.NoError(t, grace.VerifyEnrolSMS(ctx, sandboxCode))

	ref, err := grace.StartKYC(ctx)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]+$`, ref)
	st, err := root.UserStatus(ctx, u.ID)
	require.NoError(t, err)
	assert.True(t, st.EmailVerified)
	assert.Equal(t, &client.KYCStatus{Status: client.KYCPendingReview, Reference: ref}, st.KYC)
	assert.Equal(t, []client.Factor{{Type: "OTP", Channel: "SMS", Status: client.FactorActive}}, st.Factors)

	err = d.c.SandboxDecideKYC(ctx, ref, "MAYBE")
	wantClass(t, err, client.ErrInvalid)
	require.NoError(t, d.c.SandboxDecideKYC(ctx, ref, client.KYCApproved))
	err = d.c.SandboxDecideKYC(ctx, ref, client.KYCRejected)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "KYC_ALREADY_DECIDED", apiError(t, err).Code)
	st, err = root.UserStatus(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, client.KYCApproved, st.KYC.Status)

	_, err = root.StartKYC(ctx)
	wantClass(t, err, client.ErrForbidden)
	assert.Equal(t, "INSUFFICIENT_PERMISSIONS", apiError(t, err).Code)
	assert.Equal(t, "start KYC: insufficient permissions", err.Error())
}

func TestSandboxClock(t *testing.T) {
	d := startOne(t)
	ctx := context.Background()
	_, s := d.corporate("root@acme.test")

	before := d.inst.Clock.Now()
	now, err := d.c.AdvanceClock(ctx, 6*time.Minute-500*time.Millisecond) // rounded up to 360s
	require.NoError(t, err)
	assert.False(t, now.Before(before.Add(6*time.Minute).Truncate(time.Millisecond)), "advanced by 360 s (the answer has milliseconds): %v after %v", now, before)
	assert.False(t, now.After(d.inst.Clock.Now()), "the server's time as it answered")

	_, err = s.Factors(ctx)
	wantClass(t, err, client.ErrUnauthorized) // idle for more than five minutes

	_, err = d.c.AdvanceClock(ctx, -time.Second)
	wantClass(t, err, client.ErrInvalid)
	assert.Equal(t, "advanceSeconds", apiError(t, err).Fields[0].Field)

	_, err = d.c.Outbox(ctx, 101)
	wantClass(t, err, client.ErrInvalid)
	assert.Equal(t, []client.FieldError{{Field: "limit", Reason: "RANGE", Params: []string{"1", "100"}}}, apiError(t, err).Fields)
}

func TestNotSandbox(t *testing.T) {
	inst := testserver.Start(t, testserver.Options{NotSandbox: true})
	c, err := client.New(inst.URL, inst.APIKey)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Outbox(ctx, 0)
	wantClass(t, err, client.ErrNotFound)
	_, err = c.AdvanceClock(ctx, time.Hour)
	wantClass(t, err, client.ErrNotFound)
	err = c.SandboxDecideKYC(ctx, "1", client.KYCApproved)
	wantClass(t, err, client.ErrNotFound)
}

// TestIdempotentRetry is the TUI's step-up flow: a call refused for want of a
// step-up is repeated with the same ref and acts once.
func TestIdempotentRetry(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	d.enrolledRoot("root@acme.test")
	s := d.login("root@acme.test")

	ref := client.NewIdempotencyRef()
	in := client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test"}
	_, err := s.CreateUser(ctx, in, client.IdempotencyRef(ref))
	wantClass(t, err, client.ErrStepUpRequired)
	require.NoError(t, s.StepUpSMS(ctx))
	require.NoError(t, s.VerifyStepUpSMS(ctx, sandboxCode))

	first, err := s.CreateUser(ctx, in, client.IdempotencyRef(ref))
	require.NoError(t, err, "failed attempts are not remembered")
	again, err := s.CreateUser(ctx, in, client.IdempotencyRef(ref))
	require.NoError(t, err, "the same ref replays the first answer")
	assert.Equal(t, first, again)
	page, err := s.ListUsers(ctx, client.UserFilter{})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Count, "the user was created once")

	in.Name = "Amazing Grace"
	_, err = s.CreateUser(ctx, in, client.IdempotencyRef(ref))
	wantClass(t, err, client.ErrInvalid)
	assert.Equal(t, "create user: payloads do not match for the same idempotency-ref", err.Error())

	_, err = s.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test"}, client.IdempotencyRef(client.NewIdempotencyRef()))
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "EMAIL_NOT_UNIQUE", apiError(t, err).Code, "a new ref is a new operation")

	// Key-level operations take refs too.
	cin := corporateCreate("other@acme.test")
	cref := client.NewIdempotencyRef()
	c1, err := d.c.CreateCorporate(ctx, cin, client.IdempotencyRef(cref))
	require.NoError(t, err)
	c2, err := d.c.CreateCorporate(ctx, cin, client.IdempotencyRef(cref))
	require.NoError(t, err)
	assert.Equal(t, c1.ID, c2.ID)
	_, err = d.c.CreateCorporate(ctx, cin)
	wantClass(t, err, client.ErrConflict)
	assert.Equal(t, "ROOT_EMAIL_NOT_UNIQUE", apiError(t, err).Code)
}

func TestNewIdempotencyRef(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		ref := client.NewIdempotencyRef()
		assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), ref)
		assert.False(t, seen[ref], "refs repeat")
		seen[ref] = true
	}
}

// TestErrorMapping drives the server into each error class it can give.
func TestErrorMapping(t *testing.T) {
	d := start(t)
	ctx := context.Background()
	root := d.enrolledRoot("root@acme.test")

	t.Run("400 names the fields", func(t *testing.T) {
		_, err := root.CreateUser(ctx, client.UserCreate{Name: "Grace", Email: "grace@"})
		wantClass(t, err, client.ErrInvalid)
		e := apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, e.Status)
		assert.Equal(t, []client.FieldError{{Field: "surname", Reason: "REQUIRED"}, {Field: "email", Reason: "REGEX", Params: []string{"email"}}}, e.Fields)
		assert.NotEmpty(t, e.RequestRef)
		assert.Equal(t, "invalid fields surname (REQUIRED), email (REGEX)", e.Error())

		_, err = root.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@"})
		assert.Equal(t, "create user: invalid field email (REGEX)", err.Error())
	})
	t.Run("400 local", func(t *testing.T) {
		for _, id := range []string{"", ".", ".."} {
			_, err := root.GetUser(ctx, id)
			wantClass(t, err, client.ErrInvalid)
			e := apiError(t, err)
			assert.Equal(t, "user_id", e.Fields[0].Field)
			assert.Empty(t, e.RequestRef, "never sent")
		}
		_, err := root.GetUser(ctx, "abc")
		wantClass(t, err, client.ErrInvalid)
		assert.NotEmpty(t, apiError(t, err).RequestRef, "the server checks the id's format")
	})
	t.Run("401", func(t *testing.T) {
		other, err := client.New(d.inst.URL, "dsk_unknown")
		require.NoError(t, err)
		_, err = other.LoginWithPassword(ctx, "root@acme.test", testPassword)
		wantClass(t, err, client.ErrUnauthorized)
		e := apiError(t, err)
		assert.Equal(t, "UNAUTHORIZED", e.Code)
		assert.Equal(t, "unknown api-key", e.Error())

		_, err = d.c.Session("").Roles(ctx)
		wantClass(t, err, client.ErrUnauthorized)
		_, err = d.c.Session("dst_forged").Roles(ctx)
		wantClass(t, err, client.ErrUnauthorized)
	})
	t.Run("403", func(t *testing.T) {
		_, err := d.c.LoginWithPassword(ctx, "root@acme.test", "Wr0ng-Passw0rd-123")
		wantClass(t, err, client.ErrForbidden)
		e := apiError(t, err)
		assert.Equal(t, "INVALID_CREDENTIALS", e.Code)
		assert.Equal(t, "login: the credentials are not found or are incorrect", err.Error())
		assert.NotContains(t, err.Error(), "Wr0ng", "never the password")
		assert.NotContains(t, err.Error(), "root@acme.test", "never the request")
		_, err = d.c.LoginWithPassword(ctx, "root@acme.test", testPassword)
		require.NoError(t, err, "a success resets the failure count")
	})
	t.Run("403 step-up", func(t *testing.T) {
		u, err := root.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test"})
		require.NoError(t, err)
		_, err = d.login("root@acme.test").UpdateUser(ctx, u.ID, client.UserPatch{Email: new("x@acme.test")})
		wantClass(t, err, client.ErrStepUpRequired)
	})
	t.Run("404", func(t *testing.T) {
		_, err := root.UserStatus(ctx, "999999")
		wantClass(t, err, client.ErrNotFound)
		assert.Equal(t, "NOT_FOUND", apiError(t, err).Code)
	})
	t.Run("409", func(t *testing.T) {
		_, err := d.c.CreateCorporate(ctx, corporateCreate("root@acme.test"))
		wantClass(t, err, client.ErrConflict)
		e := apiError(t, err)
		assert.Equal(t, "ROOT_EMAIL_NOT_UNIQUE", e.Code)
		assert.Empty(t, e.Message)
		assert.Equal(t, "root email not unique", e.Error())
	})
	t.Run("423 after repeated failures", func(t *testing.T) {
		d := startOne(t) // it moves the sandbox clock
		d.corporate("locked@acme.test")
		var err error
		for i := range 5 {
			_, err = d.c.LoginWithPassword(ctx, "locked@acme.test", fmt.Sprintf("Wr0ng-Passw0rd-%d", i))
			wantClass(t, err, client.ErrForbidden)
		}
		_, err = d.c.LoginWithPassword(ctx, "locked@acme.test", testPassword)
		wantClass(t, err, client.ErrLocked)
		e := apiError(t, err)
		assert.Equal(t, http.StatusLocked, e.Status)
		assert.Equal(t, "LOCKED", e.Code)
		assert.InDelta(t, 30*time.Minute, e.RetryAfter, float64(time.Minute))
		assert.Contains(t, e.Error(), "; retry after 30m")

		_, err = d.c.AdvanceClock(ctx, e.RetryAfter)
		require.NoError(t, err)
		_, err = d.c.LoginWithPassword(ctx, "locked@acme.test", testPassword)
		require.NoError(t, err, "the lock lapses after RetryAfter")
	})
}

// TestErrorsFromStub covers the answers a sandbox Deputy does not give.
func TestErrorsFromStub(t *testing.T) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-ref", "ref-"+r.URL.Path[1:])
		switch strings.TrimSuffix(r.URL.Path, "/healthz") {
		case "/429":
			w.Header().Set("Retry-After", "7")
			w.Header().Set("x-ratelimit-limit", "10")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"code":"TOO_MANY_REQUESTS","message":"Too many requests: retry later."}`)
		case "/429-date":
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"code":"INTERNAL_ERROR","message":"There is a problem with the server. Please try again later.","debug":"password=hunter2"}`)
		case "/502":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `<html><body>upstream token dst_secret failed</body></html>`)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"unavailable"}`)
		case "/405":
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"code":"METHOD_NOT_ALLOWED","message":"This endpoint does not accept that method."}`)
		case "/200-garbage/multi/login_with_password":
			fmt.Fprint(w, `{"token":`)
		}
	}))
	t.Cleanup(stub.Close)
	ctx := context.Background()
	at := func(path string) *client.Client {
		c, err := client.New(stub.URL+path, "dsk_key")
		require.NoError(t, err)
		return c
	}

	// Paths are appended to the base URL, so the base picks the answer: /429/healthz.
	tests := []struct {
		path      string
		class     error
		code      string
		text      string
		retryWant time.Duration
	}{
		{"/429", client.ErrRateLimited, "TOO_MANY_REQUESTS", "health check: too many requests: retry later; retry after 7s", 7 * time.Second},
		{"/500", client.ErrServer, "INTERNAL_ERROR", "health check: there is a problem with the server. Please try again later (request-ref ref-500/healthz)", 0},
		{"/502", client.ErrServer, "", "health check: bad gateway (request-ref ref-502/healthz)", 0},
		{"/503", client.ErrServer, "", "health check: service unavailable (request-ref ref-503/healthz)", 0},
		{"/405", nil, "METHOD_NOT_ALLOWED", "health check: this endpoint does not accept that method", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := at(tt.path).Healthz(ctx)
			wantClass(t, err, tt.class)
			e := apiError(t, err)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.text, err.Error())
			assert.Equal(t, tt.retryWant, e.RetryAfter)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), "dst_secret")
		})
	}
	t.Run("Retry-After as a date", func(t *testing.T) {
		err := at("/429-date").Healthz(ctx)
		wantClass(t, err, client.ErrRateLimited)
		assert.InDelta(t, time.Hour, apiError(t, err).RetryAfter, float64(2*time.Second))
	})
	t.Run("malformed success", func(t *testing.T) {
		_, err := at("/200-garbage").LoginWithPassword(ctx, "a@b.test", "pw")
		require.ErrorContains(t, err, "login: decode response:")
		var e *client.Error
		assert.False(t, errors.As(err, &e), "not an API error")
	})
}

// TestErrorIs checks that each status belongs to exactly one class.
func TestErrorIs(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{400, "", client.ErrInvalid},
		{401, "UNAUTHORIZED", client.ErrUnauthorized},
		{403, "INSUFFICIENT_PERMISSIONS", client.ErrForbidden},
		{403, "INVALID_CREDENTIALS", client.ErrForbidden},
		{403, "STEP_UP_REQUIRED", client.ErrStepUpRequired},
		{404, "NOT_FOUND", client.ErrNotFound},
		{404, "TOKEN_NOT_FOUND", client.ErrNotFound},
		{409, "EMAIL_NOT_UNIQUE", client.ErrConflict},
		{423, "LOCKED", client.ErrLocked},
		{429, "TOO_MANY_REQUESTS", client.ErrRateLimited},
		{500, "INTERNAL_ERROR", client.ErrServer},
		{503, "", client.ErrServer},
		{599, "", client.ErrServer},
		{405, "METHOD_NOT_ALLOWED", nil},
		{413, "PAYLOAD_TOO_LARGE", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.code), func(t *testing.T) {
			e := &client.Error{Status: tt.status, Code: tt.code}
			wantClass(t, e, tt.want)
			wantClass(t, fmt.Errorf("op: %w", e), tt.want)
			assert.False(t, errors.Is(e, errors.New("not found")), "only the package's sentinels match")
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	ctx := context.Background()
	closed := httptest.NewServer(http.NotFoundHandler())
	c, err := client.New(closed.URL, "dsk_key")
	require.NoError(t, err)
	closed.Close()

	_, err = c.Session("dst_token").ListUsers(ctx, client.UserFilter{Email: "grace@acme.test"})
	require.Error(t, err)
	assert.Regexp(t, `^list users: dial tcp .*: connection refused$`, err.Error())
	assert.NotContains(t, err.Error(), "grace", "the URL with its query is not repeated")
	assert.NotContains(t, err.Error(), "dst_token")
	var e *client.Error
	assert.False(t, errors.As(err, &e), "not an API error")
	for name, s := range sentinels {
		assert.False(t, errors.Is(err, s), name)
	}

	d := start(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.c.LoginWithPassword(cctx, "root@acme.test", testPassword)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, strings.HasPrefix(err.Error(), "login: "), err.Error())

	// A nil context is an error, not a panic.
	//lint:ignore SA1012 the test is that a nil context is an error, not a panic
	err = d.c.Healthz(nil)
	require.ErrorContains(t, err, "health check: ")
}
