package command_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

// replicaCall sends one request with a JSON body and headers (name, value,
// ...; an empty value leaves its header out) and returns the status and body.
func replicaCall(t *testing.T, s *serving, method, path string, body any, headers ...string) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, "http://"+s.addr+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	// Real argon2id under -race: a burst of sign-ins queues for the cores.
	client := *s.client
	client.Timeout = time.Minute
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// outcome is a status, with the errorCode of a 4xx that has one.
func outcome(status int, body []byte) string {
	var e struct{ ErrorCode string }
	if status >= 400 && json.Unmarshal(body, &e) == nil && e.ErrorCode != "" {
		return fmt.Sprint(status, " ", e.ErrorCode)
	}
	return fmt.Sprint(status)
}

// TestReplicasShareOnePostgres runs two `deputy serve` on one PostgreSQL
// database, each with its own pool and clock, and splits parallel requests
// between them: what one replica decides, the other cannot decide again,
// and what one counts, the other counts on.
func TestReplicasShareOnePostgres(t *testing.T) {
	db := pgtest.URL(t)
	p := createProgramme(t, db)
	key := p["apiKey"]
	args := []string{"--sandbox", "--db", db, "--audit-key", filepath.Join(t.TempDir(), "audit-key"), "--trusted-proxies", "127.0.0.1/32"}
	replicas := []*serving{startServe(t, args...), startServe(t, args...)}
	const n = 50
	// parallel makes n requests at once, alternating between the replicas,
	// and counts their outcomes; do's i tells the requests apart.
	parallel := func(n int, do func(s *serving, i int) (int, []byte)) map[string]int {
		outcomes := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				outcomes[i] = outcome(do(replicas[i%2], i))
			})
		}
		close(start)
		wg.Wait()
		got := map[string]int{}
		for _, o := range outcomes {
			got[o]++
		}
		return got
	}
	// client is the address of the i-th client, behind the trusted proxy.
	client := func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }
	login := func(s *serving, email, password, xff string) (int, []byte) {
		return replicaCall(t, s, "POST", "/multi/login_with_password",
			map[string]any{"email": email, "password": map[string]string{"value": password}}, "api-key", key, "X-Forwarded-For", xff)
	}

	t.Run("a code verifies once", func(t *testing.T) {
		_, token := signUp(t, replicas[0], key, "otp@acme.test")
		const enrol, stepUp = "/multi/authentication_factors/otp/SMS", "/multi/stepup/challenges/otp/SMS"
		code := map[string]string{"verificationCode": "123456"}
		status, body := replicaCall(t, replicas[1], "POST", enrol, nil, "api-key", key, "Authorization", "Bearer "+token)
		require.Equal(t, http.StatusNoContent, status, "enrol: %s", body)
		status, body = replicaCall(t, replicas[0], "POST", enrol+"/verify", code, "api-key", key, "Authorization", "Bearer "+token)
		require.Equal(t, http.StatusNoContent, status, "verify the enrolment: %s", body)
		status, body = login(replicas[1], "otp@acme.test", "Sup3r-Secret", "")
		require.Equal(t, http.StatusOK, status, "login: %s", body)
		var session struct{ Token string }
		require.NoError(t, json.Unmarshal(body, &session))
		auth := "Bearer " + session.Token
		status, body = replicaCall(t, replicas[0], "POST", stepUp, nil, "api-key", key, "Authorization", auth)
		require.Equal(t, http.StatusNoContent, status, "step-up challenge: %s", body)

		got := parallel(n, func(s *serving, _ int) (int, []byte) {
			return replicaCall(t, s, "POST", stepUp+"/verify", code, "api-key", key, "Authorization", auth)
		})
		assert.Equal(t, map[string]int{"204": 1, "409 ALREADY_VERIFIED": n - 1}, got)
	})

	t.Run("lockout at exactly five failures", func(t *testing.T) {
		signUp(t, replicas[1], key, "lock@acme.test")
		// Fewer than n: each wrong password costs a real argon2id hash.
		const tries = 12
		got := parallel(tries, func(s *serving, i int) (int, []byte) { return login(s, "lock@acme.test", "Wr0ng-Password", client(i)) })
		assert.Equal(t, map[string]int{"403": 5, "423": tries - 5}, got)
	})

	t.Run("one login budget per client", func(t *testing.T) {
		// The budget is 30 sign-ins a minute per client address, in fixed
		// windows: both replicas' sandbox clocks move to the start of one.
		d := 60 - time.Now().Second()
		for _, s := range replicas {
			status, body := replicaCall(t, s, "POST", "/multi/sandbox/clock", map[string]any{"advanceSeconds": d}, "api-key", key)
			require.Equal(t, http.StatusOK, status, "%s", body)
		}
		got := parallel(n, func(s *serving, i int) (int, []byte) {
			return login(s, fmt.Sprintf("nobody%d@acme.test", i), "Wr0ng-Password", "198.51.100.7")
		})
		assert.Equal(t, map[string]int{"403": 30, "429": n - 30}, got)
	})

	t.Run("a password token signs in once", func(t *testing.T) {
		signUp(t, replicas[0], key, "token@acme.test")
		status, body := replicaCall(t, replicas[1], "POST", "/multi/tokenize",
			map[string]any{"password": map[string]string{"value": "Sup3r-Secret"}}, "api-key", p["uiKey"])
		require.Equal(t, http.StatusOK, status, "tokenize: %s", body)
		var tok struct{ Token string }
		require.NoError(t, json.Unmarshal(body, &tok))
		got := parallel(n, func(s *serving, i int) (int, []byte) { return login(s, "token@acme.test", tok.Token, client(i)) })
		assert.Equal(t, map[string]int{"200": 1, "404 TOKEN_NOT_FOUND": n - 1}, got)
	})

	t.Run("one idempotency-ref, one effect", func(t *testing.T) {
		create := func(s *serving, _ int) (int, []byte) {
			return replicaCall(t, s, "POST", "/multi/corporates", map[string]any{
				"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": "idem@acme.test", "companyPosition": "DIRECTOR",
					"mobile": map[string]string{"countryCode": "+44", "number": "7700900123"}},
				"company":   map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
				"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP"},
				"api-key", key, "idempotency-ref", "replicas-ref")
		}
		got := parallel(n, create)
		assert.Equal(t, n, got["200"]+got["409 IDEMPOTENCY_REF_IN_FLIGHT"], "outcomes %v", got)
		require.Positive(t, got["200"], "outcomes %v", got)

		ids := map[string]bool{}
		for i, s := range replicas { // afterwards both replay the one answer
			status, body := create(s, i)
			require.Equal(t, http.StatusOK, status, "%s", body)
			var corp struct{ ID struct{ ID string } }
			require.NoError(t, json.Unmarshal(body, &corp))
			ids[corp.ID.ID] = true
		}
		assert.Len(t, ids, 1, "corporate ids replayed")

		conn, err := pgx.Connect(t.Context(), db)
		require.NoError(t, err)
		defer conn.Close(t.Context())
		var users int
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE email = 'idem@acme.test'`).Scan(&users))
		assert.Equal(t, 1, users, "root users created")
	})
}
