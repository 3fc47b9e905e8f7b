package command_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/deputyhq/deputy/internal/command"
)

// collector is an in-process OTLP/HTTP trace collector: it decodes each
// protobuf export into the spans it holds.
type collector struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// received returns the spans exported so far.
func (c *collector) received() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

// attr returns a span's string attribute.
func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// exchange sends one JSON request and returns its status, body and request-ref.
func (s *serving) exchange(t *testing.T, method, path, key, token string, body any) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	}
	return res.StatusCode, out, res.Header.Get("request-ref")
}

const (
	telemetryEmail    = "ada.lovelace@example.com"
	telemetryPassword = "Str0ng-Passw0rd"
)

// rootUser creates a corporate and gives its root user a password: it returns
// the user's id, token and the password-create call's request-ref.
func (s *serving) rootUser(t *testing.T, apiKey string) (id, token, ref string) {
	t.Helper()
	status, out, _ := s.exchange(t, "POST", "/multi/corporates", apiKey, "", map[string]any{
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP",
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": telemetryEmail, "companyPosition": "DIRECTOR",
			"mobile": map[string]any{"countryCode": "+44", "number": "7700900123"}},
		"company": map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
	})
	require.Equal(t, http.StatusOK, status, "%v", out)
	id = out["id"].(map[string]any)["id"].(string)
	status, out, ref = s.exchange(t, "POST", "/multi/passwords/"+id+"/create", apiKey, "", map[string]any{"password": map[string]any{"value": telemetryPassword}})
	require.Equal(t, http.StatusOK, status, "%v", out)
	return id, out["token"].(string), ref
}

// TestServeTraces follows one password-create call (a user's first password:
// a hash and a store update) through an in-process OTLP collector: its request
// span, named by the route and carrying the request-ref, has child spans for
// the store transactions and the hash in the same trace, and the request's
// log line carries the request-ref and the trace id.
func TestServeTraces(t *testing.T) {
	col := newCollector(t)
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--otlp-endpoint", col.url)
	_, _, ref := s.rootUser(t, p["apiKey"])
	s.stop() // flushes the batched spans

	spans := col.received()
	var req *tracepb.Span
	for _, sp := range spans {
		if attr(sp, "deputy.request_ref") == ref {
			req = sp
		}
	}
	require.NotNil(t, req, "a span carries the request-ref %s among %d spans", ref, len(spans))
	assert.Equal(t, "POST /multi/passwords/{user_id}/create", req.Name, "named by the route, not the path")
	assert.Equal(t, "/multi/passwords/{user_id}/create", attr(req, "http.route"))
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, req.Kind)

	children := map[string]int{}
	for _, sp := range spans {
		if bytes.Equal(sp.ParentSpanId, req.SpanId) {
			assert.Equal(t, req.TraceId, sp.TraceId, "%s shares the request's trace", sp.Name)
			children[sp.Name]++
		}
	}
	assert.Positive(t, children["store.update"], "store update spans under the request: %v", children)
	assert.Positive(t, children["store.view"], "store view spans under the request: %v", children)
	assert.Equal(t, 1, children["password.hash"], "one hash span under the request: %v", children)

	traceID := hex.EncodeToString(req.TraceId)
	line := regexp.MustCompile(`(?m)^.*"msg":"request".*"request_ref":"` + ref + `".*$`).FindString(s.logs.String())
	require.NotEmpty(t, line, "the request's log line")
	assert.Contains(t, line, `"trace_id":"`+traceID+`"`)
}

// TestServeMetrics drives sign-ins, a lockout and an SMS step-up, then scrapes
// the admin listener: every metric is there, labelled by route and outcome,
// and no label holds the email, the user's id, a token or a key. The public
// port serves no metrics.
func TestServeMetrics(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--admin-addr", "127.0.0.1:0")
	require.NotEmpty(t, s.adminAddr, "the serving line names the admin listener")
	key := p["apiKey"]
	id, token, _ := s.rootUser(t, key)

	for _, step := range []struct{ path, body string }{
		{"/multi/authentication_factors/otp/SMS", ""},
		{"/multi/authentication_factors/otp/SMS/verify", "123456"},
		{"/multi/stepup/challenges/otp/SMS", ""},
		{"/multi/stepup/challenges/otp/SMS/verify", "000000"},
		{"/multi/stepup/challenges/otp/SMS/verify", "123456"},
	} {
		var body any
		if step.body != "" {
			body = map[string]any{"verificationCode": step.body}
		}
		status, out, _ := s.exchange(t, "POST", step.path, key, token, body)
		require.Contains(t, []int{http.StatusOK, http.StatusNoContent, http.StatusConflict}, status, "%s: %v", step.path, out)
	}
	login := func(pw string) int {
		status, _, _ := s.exchange(t, "POST", "/multi/login_with_password", key, "", map[string]any{"email": telemetryEmail, "password": map[string]any{"value": pw}})
		return status
	}
	require.Equal(t, http.StatusOK, login(telemetryPassword))
	for range 5 {
		require.Equal(t, http.StatusForbidden, login("Wr0ng-Passw0rd"))
	}
	require.Equal(t, http.StatusLocked, login(telemetryPassword))

	res, err := s.client.Get("http://" + s.addr + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "no metrics on the public port")

	res, err = s.client.Get("http://" + s.adminAddr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := string(b)
	for _, want := range []string{
		`http_server_request_duration_seconds_bucket{`, `http_route="/multi/passwords/{user_id}/create"`,
		`deputy_sign_ins_total{`, `outcome="success"`, `outcome="failure"`, `outcome="locked"`,
		`deputy_lockouts_total{kind="password"`,
		`deputy_otp_sent_total{channel="sms"`,
		`deputy_step_ups_total{channel="sms"`, `outcome="verified"`, `outcome="failed"`,
		`deputy_store_transaction_duration_seconds_bucket{kind="update"`, `deputy_store_transaction_duration_seconds_bucket{kind="view"`,
		`deputy_password_hash_queue_wait_seconds_bucket{`,
	} {
		assert.True(t, strings.Contains(out, want), "the scrape has %s", want) // not the whole scrape on failure
	}
	labels := strings.Join(regexp.MustCompile(`\{[^}]*\}`).FindAllString(out, -1), "\n")
	for _, secret := range []string{telemetryEmail, "ada.lovelace", id, token, key, p["uiKey"], telemetryPassword, "123456"} {
		assert.NotContains(t, labels, secret, "no label holds it")
	}
}

// TestServeRefusesAdminOnPublicAddr: metrics are never served on the public port.
func TestServeRefusesAdminOnPublicAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	for _, admin := range []string{"127.0.0.1:18080", "0.0.0.0:18080", ":18080"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := command.Run(ctx, []string{"deputy", "serve", "--sandbox", "--db", db, "--addr", "127.0.0.1:18080", "--admin-addr", admin}, io.Discard, io.Discard)
		cancel()
		require.Error(t, err, admin)
		assert.Contains(t, err.Error(), "must not be the public --addr", admin)
	}
}

// TestServeWarnsOfAdminBeyondLoopback: an admin listener other machines
// reach is logged as a warning (its /metrics has no authentication and tells
// anyone who reaches it the sign-in, lockout and step-up counts); on loopback
// it is not.
func TestServeWarnsOfAdminBeyondLoopback(t *testing.T) {
	s := startServe(t, "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--admin-addr", "0.0.0.0:0")
	assert.Contains(t, s.logs.String(), "admin listener beyond this machine")
	s = startServe(t, "--sandbox", "--db", filepath.Join(t.TempDir(), "deputy.db"), "--admin-addr", "127.0.0.1:0")
	assert.NotContains(t, s.logs.String(), "admin listener beyond this machine")
}

// rawGet sends a GET with the Host header host over its own connection (an
// outsider picks any Host it likes) and returns the status line.
func (s *serving) rawGet(t *testing.T, host, path, apiKey string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\napi-key: %s\r\nConnection: close\r\n\r\n", path, host, apiKey)
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return line
}

// scrapeAdmin returns the admin listener's Prometheus exposition.
func (s *serving) scrapeAdmin(t *testing.T) string {
	t.Helper()
	res, err := s.client.Get("http://" + s.adminAddr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// TestServeMetricsHostBounded: the Host header is the caller's to choose, so
// requests naming random hosts and ports must not add label values to the
// HTTP metrics (one series per host and port an attacker invents).
func TestServeMetricsHostBounded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--admin-addr", "127.0.0.1:0")
	for i := range 5 {
		line := s.rawGet(t, fmt.Sprintf("attacker-%d.example:%d", i, 1000+i), "/multi/users", p["apiKey"])
		require.Contains(t, line, " 401 ", "the request was answered")
	}
	out := s.scrapeAdmin(t)
	require.Contains(t, out, `http_server_request_duration_seconds_count{`)
	assert.False(t, strings.Contains(out, "attacker-"), "no label holds a Host the caller chose") // not the whole scrape on failure
	assert.False(t, regexp.MustCompile(`server_port="100\d"`).MatchString(out), "no label holds a port the caller chose")
	series := regexp.MustCompile(`(?m)^http_server_request_duration_seconds_count\{.*http_response_status_code="401".*$`).FindAllString(out, -1)
	assert.Len(t, series, 1, "the five requests share one series: %v", series)
}

// TestServeMetricsProtocolBounded: the request line's version is the
// caller's to choose too (Go's server takes HTTP/1.0 to HTTP/1.9), so a
// made-up minor version must not add a network_protocol_version to the HTTP
// metrics: it counts as HTTP/1.1.
func TestServeMetricsProtocolBounded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--admin-addr", "127.0.0.1:0")
	for minor := range 10 {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, "GET /multi/users HTTP/1.%d\r\nHost: deputy\r\napi-key: %s\r\nConnection: close\r\n\r\n", minor, p["apiKey"])
		require.NoError(t, err)
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		require.NoError(t, err)
		require.Contains(t, line, " 401 ", "HTTP/1.%d was answered", minor)
	}
	versions := map[string]bool{}
	for _, m := range regexp.MustCompile(`network_protocol_version="([^"]*)"`).FindAllStringSubmatch(s.scrapeAdmin(t), -1) {
		versions[m[1]] = true
	}
	assert.Equal(t, map[string]bool{"1.0": true, "1.1": true}, versions, "only the versions HTTP/1 has label the metrics")
}

// TestServeTracesNoPathIDs: request spans are named and attributed by the
// route, so a user's id in the path (or an outsider's random segment on an
// unknown path) reaches no span attribute.
func TestServeTracesNoPathIDs(t *testing.T) {
	col := newCollector(t)
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--otlp-endpoint", col.url)
	key := p["apiKey"]
	id, token, _ := s.rootUser(t, key)
	status, out, ref := s.exchange(t, "GET", "/multi/users/"+id, key, token, nil)
	require.NotEqual(t, http.StatusInternalServerError, status, "%v", out)
	status, _, unknownRef := s.exchange(t, "GET", "/multi/nothing-here/r4nd0m-s3gment", key, token, nil)
	require.Equal(t, http.StatusNotFound, status)
	s.stop()

	seen := map[string]bool{}
	for _, sp := range col.received() {
		seen[attr(sp, "deputy.request_ref")] = true
		assert.NotContains(t, sp.Name, id)
		for _, kv := range sp.Attributes {
			v := kv.Value.GetStringValue()
			assert.NotContains(t, v, id, "span %s attribute %s", sp.Name, kv.Key)
			assert.NotContains(t, v, "r4nd0m-s3gment", "span %s attribute %s", sp.Name, kv.Key)
		}
		if attr(sp, "deputy.request_ref") == ref {
			assert.Equal(t, "/multi/users/{user_id}", attr(sp, "url.path"), "the route stands for the path")
		}
	}
	assert.True(t, seen[ref] && seen[unknownRef], "both requests were traced")
}

// TestServeTracesBoundedAttributes: what a caller writes into a request (a
// User-Agent, a method of its own) reaches the request span bounded, not as
// the megabyte of header the HTTP server lets through.
func TestServeTracesBoundedAttributes(t *testing.T) {
	col := newCollector(t)
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db, "--otlp-endpoint", col.url)
	for _, method := range []string{"GET", strings.Repeat("M", 16<<10)} {
		req, err := http.NewRequest(method, "http://"+s.addr+"/multi/users", nil)
		require.NoError(t, err)
		req.Header.Set("api-key", p["apiKey"])
		req.Header.Set("User-Agent", strings.Repeat("u", 256<<10))
		res, err := s.client.Do(req)
		require.NoError(t, err)
		res.Body.Close()
	}
	s.stop()

	spans := col.received()
	var requests int
	for _, sp := range spans {
		if attr(sp, "deputy.request_ref") != "" {
			requests++
		}
		for _, kv := range sp.Attributes {
			assert.LessOrEqual(t, len(kv.Value.GetStringValue()), 1024, "span %s attribute %s", sp.Name, kv.Key)
		}
	}
	assert.Equal(t, 2, requests, "both requests were traced")
}

// TestServeTracesClientAddress: the request span's client.address is the
// client Deputy itself believes (the peer, or X-Forwarded-For only from a
// --trusted-proxies peer), as the audit log and the rate limits take it, not
// whatever X-Forwarded-For a caller wrote.
func TestServeTracesClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"untrusted peer", nil, "127.0.0.1"},
		{"trusted proxy", []string{"--trusted-proxies", "127.0.0.1"}, "203.0.113.66"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector(t)
			db := filepath.Join(t.TempDir(), "deputy.db")
			p := createProgramme(t, db)
			s := startServe(t, append([]string{"--sandbox", "--db", db, "--otlp-endpoint", col.url}, tc.args...)...)
			req, err := http.NewRequest("GET", "http://"+s.addr+"/multi/users", nil)
			require.NoError(t, err)
			req.Header.Set("api-key", p["apiKey"])
			req.Header.Set("X-Forwarded-For", "203.0.113.66")
			res, err := s.client.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			ref := res.Header.Get("request-ref")
			s.stop()

			var found bool
			for _, sp := range col.received() {
				if attr(sp, "deputy.request_ref") == ref {
					found = true
					assert.Equal(t, tc.want, attr(sp, "client.address"))
				}
			}
			assert.True(t, found, "the request was traced")
		})
	}
}

// requestLines returns the request log's lines.
func requestLines(logs string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestServeRequestLogBounded: the request log names each request by its
// route, so a user's id in the path reaches no log line, and what an outsider
// sends as method or path reaches it bounded: a made-up method is _OTHER, an
// unknown path is the catch-all route. Each line still carries its
// request-ref.
func TestServeRequestLogBounded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deputy.db")
	p := createProgramme(t, db)
	s := startServe(t, "--sandbox", "--db", db)
	key := p["apiKey"]
	id, token, _ := s.rootUser(t, key)
	_, _, ref := s.exchange(t, "GET", "/multi/users/"+id, key, token, nil)
	req, err := http.NewRequest(strings.Repeat("M", 8<<10), "http://"+s.addr+"/multi/r4nd0m-s3gment", nil)
	require.NoError(t, err)
	res, err := s.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	oddRef := res.Header.Get("request-ref")
	s.stop()

	lines := requestLines(s.logs.String())
	byRef := map[string]map[string]any{}
	for _, l := range lines {
		b, err := json.Marshal(l)
		require.NoError(t, err)
		assert.NotContains(t, string(b), id, "no request line holds the user's id")
		assert.NotContains(t, string(b), "r4nd0m-s3gment", "no request line holds an outsider's path")
		assert.LessOrEqual(t, len(b), 512, "a request line is bounded: %.200s", b)
		byRef[l["request_ref"].(string)] = l
	}
	require.Contains(t, byRef, ref)
	assert.Equal(t, "/multi/users/{user_id}", byRef[ref]["route"])
	assert.Equal(t, "GET", byRef[ref]["method"])
	require.Contains(t, byRef, oddRef)
	assert.Equal(t, "_OTHER", byRef[oddRef]["method"])
	assert.Equal(t, "/", byRef[oddRef]["route"])
}
