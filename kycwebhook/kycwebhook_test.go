package kycwebhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/kycsig"
	"github.com/deputyhq/deputy/kycwebhook"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// service is a KYC service that checks each case's signature and answers status.
type service struct {
	status int

	mu    sync.Mutex
	cases []kycwebhook.Case
	bad   int // requests whose signature failed
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if kycsig.Verify(secret, r.Header.Get(kycsig.Header), body, time.Now()) != nil || r.Header.Get("Content-Type") != "application/json" {
		s.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var c kycwebhook.Case
	if err := json.Unmarshal(body, &c); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.cases = append(s.cases, c)
	w.WriteHeader(s.status)
}

func request() core.KYCRequest {
	return core.KYCRequest{Reference: "100000042", ProgrammeID: "100000001", User: &core.User{
		ID: "100000007", IdentityID: "100000002", Name: "Bea", Surname: "Baker", Email: "bea@acme.test",
		Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900456"}, DateOfBirth: &core.Date{Year: 1990, Month: 2, Day: 3},
	}}
}

func TestStartKYCPostsTheSignedCase(t *testing.T) {
	svc := &service{status: http.StatusAccepted}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	p, err := kycwebhook.New(kycwebhook.Config{URL: srv.URL + "/cases", Secret: secret})
	require.NoError(t, err)
	assert.Equal(t, "webhook", p.Name())

	require.NoError(t, p.StartKYC(context.Background(), request()))
	require.Len(t, svc.cases, 1)
	assert.Zero(t, svc.bad)
	assert.Equal(t, kycwebhook.Case{Reference: "100000042", ProgrammeID: "100000001", User: kycwebhook.CaseUser{
		ID: "100000007", IdentityID: "100000002", Name: "Bea", Surname: "Baker", Email: "bea@acme.test",
		Mobile: &core.Mobile{CountryCode: "+44", Number: "7700900456"}, DateOfBirth: &core.Date{Year: 1990, Month: 2, Day: 3},
	}}, svc.cases[0])
}

func TestStartKYCFailsUnlessTaken(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusConflict, http.StatusInternalServerError} {
		srv := httptest.NewServer(&service{status: status})
		p, err := kycwebhook.New(kycwebhook.Config{URL: srv.URL, Secret: secret})
		require.NoError(t, err)
		err = p.StartKYC(context.Background(), request())
		assert.EqualError(t, err, "kyc webhook: the service answered "+strconv.Itoa(status))
		srv.Close()
	}

	srv := httptest.NewServer(&service{status: http.StatusOK})
	t.Cleanup(srv.Close)
	wrong, err := kycwebhook.New(kycwebhook.Config{URL: srv.URL, Secret: []byte(strings.Repeat("x", 32))})
	require.NoError(t, err)
	assert.ErrorContains(t, wrong.StartKYC(context.Background(), request()), "answered 401", "the service refuses another secret's signature")

	stale, err := kycwebhook.New(kycwebhook.Config{URL: srv.URL, Secret: secret,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	require.NoError(t, err)
	assert.ErrorContains(t, stale.StartKYC(context.Background(), request()), "answered 401", "signatures are dated")
}

// TestStartKYCFollowsNoRedirect: a redirect is not the case taken. Followed,
// a 307 or 308 would post the person's details, and a signature good for
// five minutes, to wherever it points, plain HTTP included; a 301, 302 or 303
// would turn the POST into a GET whose 200 then passed for a case taken that
// the service never received.
func TestStartKYCFollowsNoRedirect(t *testing.T) {
	elsewhere := &service{status: http.StatusOK}
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := httptest.NewServer(http.RedirectHandler(other.URL+"/cases", status))
		p, err := kycwebhook.New(kycwebhook.Config{URL: srv.URL, Secret: secret})
		require.NoError(t, err)
		err = p.StartKYC(context.Background(), request())
		assert.EqualError(t, err, "kyc webhook: the service answered "+strconv.Itoa(status))
		srv.Close()
	}
	elsewhere.mu.Lock()
	defer elsewhere.mu.Unlock()
	assert.Empty(t, elsewhere.cases, "no case reached the redirect's target")
	assert.Zero(t, elsewhere.bad, "nothing reached the redirect's target")
}

func TestStartKYCHidesTheURLsCredentials(t *testing.T) {
	p, err := kycwebhook.New(kycwebhook.Config{URL: "http://user:hunter2-secret@127.0.0.1:1/cases?token=tok-secret", Secret: secret, Timeout: 2 * time.Second})
	require.NoError(t, err)
	err = p.StartKYC(context.Background(), request())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2-secret")
	assert.NotContains(t, err.Error(), "tok-secret")
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  kycwebhook.Config
		want string
	}{
		{kycwebhook.Config{URL: "ftp://kyc.example", Secret: secret}, "absolute http(s) URL"},
		{kycwebhook.Config{URL: "/cases", Secret: secret}, "absolute http(s) URL"},
		{kycwebhook.Config{URL: "htps://user:hunter2-secret@kyc.example/cases", Secret: secret}, "absolute http(s) URL"},
		{kycwebhook.Config{URL: "kyc.example/cases?token=tok-secret", Secret: secret}, "absolute http(s) URL"},
		{kycwebhook.Config{URL: "https://kyc.example", Secret: []byte("short")}, "at least 32"},
	} {
		_, err := kycwebhook.New(tt.cfg)
		assert.ErrorContains(t, err, tt.want)
		for _, secret := range []string{"hunter2-secret", "tok-secret"} {
			assert.NotContains(t, err.Error(), secret, "a mistyped URL's credentials are not quoted")
		}
	}
}
