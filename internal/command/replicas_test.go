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

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

// replicaCall is one request to a replica; a non-empty ref is sent as
// idempotency-ref. It returns the status and, for a 409, the error code.
func replicaCall(t *testing.T, s *serving, method, path, key, token, ref string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, "http://"+s.addr+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ref != "" {
		req.Header.Set("idempotency-ref", ref)
	}
	res, err := s.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// outcome is a status, and the errorCode of a 409.
func outcome(t *testing.T, status int, body []byte) string {
	t.Helper()
	if status != http.StatusConflict {
		return fmt.Sprint(status)
	}
	var e struct{ ErrorCode string }
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	return fmt.Sprint(status, " ", e.ErrorCode)
}

// TestReplicasShareOnePostgres runs two `deputy serve` on one PostgreSQL
// database, each with its own pool, and splits parallel requests between
// them: what one replica decides, the other cannot decide again.
func TestReplicasShareOnePostgres(t *testing.T) {
	db := pgtest.URL(t)
	key := createProgramme(t, db)["apiKey"]
	auditKey := filepath.Join(t.TempDir(), "audit-key")
	replicas := []*serving{
		startServe(t, "--sandbox", "--db", db, "--audit-key", auditKey),
		startServe(t, "--sandbox", "--db", db, "--audit-key", auditKey),
	}
	const n = 50
	// parallel makes n requests at once, alternating between the replicas,
	// and counts their outcomes.
	parallel := func(do func(s *serving) (int, []byte)) map[string]int {
		outcomes := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				status, body := do(replicas[i%2])
				outcomes[i] = outcome(t, status, body)
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

	t.Run("a code verifies once", func(t *testing.T) {
		_, token := signUp(t, replicas[0], key, "otp@acme.test")
		const enrol, stepUp = "/multi/authentication_factors/otp/SMS", "/multi/stepup/challenges/otp/SMS"
		code := map[string]string{"verificationCode": "123456"}
		status, body := replicaCall(t, replicas[1], "POST", enrol, key, token, "", nil)
		require.Equal(t, http.StatusNoContent, status, "enrol: %s", body)
		status, body = replicaCall(t, replicas[0], "POST", enrol+"/verify", key, token, "", code)
		require.Equal(t, http.StatusNoContent, status, "verify the enrolment: %s", body)
		status, body = replicaCall(t, replicas[1], "POST", "/multi/login_with_password", key, "", "",
			map[string]any{"email": "otp@acme.test", "password": map[string]string{"value": "Sup3r-Secret"}})
		require.Equal(t, http.StatusOK, status, "login: %s", body)
		var login struct{ Token string }
		require.NoError(t, json.Unmarshal(body, &login))
		status, body = replicaCall(t, replicas[0], "POST", stepUp, key, login.Token, "", nil)
		require.Equal(t, http.StatusNoContent, status, "step-up challenge: %s", body)

		got := parallel(func(s *serving) (int, []byte) {
			return replicaCall(t, s, "POST", stepUp+"/verify", key, login.Token, "", code)
		})
		assert.Equal(t, map[string]int{"204": 1, "409 ALREADY_VERIFIED": n - 1}, got)
	})

	t.Run("lockout at exactly five failures", func(t *testing.T) {
		signUp(t, replicas[1], key, "lock@acme.test")
		got := parallel(func(s *serving) (int, []byte) {
			return replicaCall(t, s, "POST", "/multi/login_with_password", key, "", "",
				map[string]any{"email": "lock@acme.test", "password": map[string]string{"value": "Wr0ng-Password"}})
		})
		// The loopback address's login budget (30 a minute, shared by the
		// replicas) refuses some with 429 before they count.
		assert.Equal(t, 5, got["403"], "wrong passwords counted before the lockout, outcomes %v", got)
		assert.Equal(t, n-5, got["423"]+got["429"], "locked or over budget, outcomes %v", got)
	})

	t.Run("one idempotency-ref, one effect", func(t *testing.T) {
		create := func(s *serving) (int, []byte) {
			return replicaCall(t, s, "POST", "/multi/corporates", key, "", "replicas-ref", map[string]any{
				"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": "idem@acme.test",
					"mobile": map[string]string{"countryCode": "+44", "number": "7700900123"}},
				"company": map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"}, "baseCurrency": "GBP"})
		}
		got := parallel(create)
		assert.Equal(t, n, got["200"]+got["409 IDEMPOTENCY_REF_IN_FLIGHT"], "outcomes %v", got)
		require.Positive(t, got["200"], "outcomes %v", got)

		ids := map[string]bool{}
		for _, s := range replicas { // afterwards both replay the one answer
			status, body := create(s)
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
