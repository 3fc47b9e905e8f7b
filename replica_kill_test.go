//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
)

// TestReplicaKill9LosesNoAcknowledgedWrite: two `deputy serve` processes on
// one PostgreSQL; while clients create corporates through the first, it is
// killed with SIGKILL. Every create it acknowledged is there: the same
// idempotency-ref sent to the second replica answers the original response;
// the creates it never answered are made once by their retry there.
func TestReplicaKill9LosesNoAcknowledgedWrite(t *testing.T) {
	bin := buildDeputy(t)
	db := pgtest.URL(t)
	out, err := exec.Command(bin, "programme", "create", "--db", db, "--name", "Acme Pay", "--json").Output()
	require.NoError(t, err)
	var prog struct{ APIKey string }
	require.NoError(t, json.Unmarshal(out, &prog))
	key := filepath.Join(t.TempDir(), "audit-key")
	a, b := startDeputy(t, bin, db, "--audit-key", key), startDeputy(t, bin, db, "--audit-key", key)

	const creates, killAfter = 40, 10
	body := func(i int) string {
		return fmt.Sprintf(`{"rootUser":{"name":"Ada","surname":"Lovelace","email":"ada%d@acme.test","companyPosition":"DIRECTOR",
			"mobile":{"countryCode":"+44","number":"7700900123"}},"company":{"name":"Acme %d","type":"LLC","registrationCountry":"GB"},
			"profileId":"1","ipAddress":"192.0.2.1","baseCurrency":"GBP"}`, i, i)
	}
	var (
		mu    sync.Mutex
		acked = map[int][]byte{} // the 200 answers the first replica gave
		done  atomic.Int32
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	var kill sync.Once
	for i := range creates {
		wg.Go(func() {
			status, out, err := a.send(prog.APIKey, "/multi/corporates", body(i), fmt.Sprintf("kill-%d", i))
			if err == nil && status == http.StatusOK {
				mu.Lock()
				acked[i] = out
				mu.Unlock()
			}
			if done.Add(1) == killAfter {
				kill.Do(func() {
					_ = a.cmd.Process.Kill() // SIGKILL, in the middle of the others
					close(killed)
				})
			}
		})
	}
	<-killed
	wg.Wait()
	require.NotEmpty(t, acked, "some creates were acknowledged before the kill")

	// A create the dead replica had claimed but not finished answers 409
	// IDEMPOTENCY_REF_IN_FLIGHT until its claim is a minute old, then the
	// retry takes it over.
	var inFlight int
	for i := range creates {
		status, out, err := b.send(prog.APIKey, "/multi/corporates", body(i), fmt.Sprintf("kill-%d", i))
		require.NoError(t, err)
		if status == http.StatusConflict {
			assert.NotContains(t, acked, i, "an acknowledged create is never in flight")
			assert.Contains(t, string(out), "IDEMPOTENCY_REF_IN_FLIGHT")
			inFlight++
		}
	}
	b.post(t, prog.APIKey, "/multi/sandbox/clock", `{"advanceSeconds": 61}`, http.StatusOK)

	ids := map[string]bool{}
	for i := range creates {
		status, out, err := b.send(prog.APIKey, "/multi/corporates", body(i), fmt.Sprintf("kill-%d", i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "create %d through the other replica: %s", i, out)
		if first, ok := acked[i]; ok {
			assert.JSONEq(t, string(first), string(out), "create %d: the acknowledged answer, replayed", i)
		}
		var corp struct{ ID struct{ ID string } }
		require.NoError(t, json.Unmarshal(out, &corp))
		assert.False(t, ids[corp.ID.ID], "one corporate per create")
		ids[corp.ID.ID] = true
	}
	t.Logf("%d of %d creates acknowledged before the kill, %d left in flight; all %d there once", len(acked), creates, inFlight, len(ids))
}
