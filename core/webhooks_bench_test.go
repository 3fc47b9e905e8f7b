package core_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// BenchmarkWebhookWriteOverhead measures a user update (one store
// transaction) without webhook endpoints and with two endpoints taking every
// event, and reports the overhead of the outbox in percent (target: at most 10).
func BenchmarkWebhookWriteOverhead(b *testing.B) {
	cost := map[bool]time.Duration{}
	for _, hooked := range []bool{false, true} {
		b.Run(fmt.Sprintf("endpoints=%v", hooked), func(b *testing.B) {
			e := newHookEnv(b)
			if !hooked {
				require.NoError(b, e.svc.RemoveWebhook(e.ctx, e.prog.ID, e.hook.Webhook.ID))
			} else {
				e.addHook(e.rcv.srv.URL + "/second")
			}
			root := e.steppedUpRoot(e.prog, "root@acme.test")
			u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith", Email: "bea@acme.test"}})
			require.NoError(b, err)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				tag := strconv.Itoa(i)
				if _, err := e.svc.UpdateUser(e.ctx, root, u.ID, core.UserPatch{Tag: &tag}); err != nil {
					b.Fatal(err)
				}
			}
			cost[hooked] = time.Since(start) / time.Duration(b.N)
		})
	}
	if cost[false] > 0 {
		b.Logf("a user update: %v without endpoints, %v with two (overhead %.1f%%)", cost[false], cost[true],
			100*(float64(cost[true])/float64(cost[false])-1))
	}
}

// BenchmarkWebhookDelivery delivers WEBHOOK_EVENTS events (default 5,000)
// of 100 users to a receiver on loopback and reports events per second
// (target: at least 1,000).
func BenchmarkWebhookDelivery(b *testing.B) {
	events := 5000
	if s := os.Getenv("WEBHOOK_EVENTS"); s != "" {
		events, _ = strconv.Atoi(s)
	}
	const users = 100
	for range b.N {
		b.StopTimer()
		e := newHookEnv(b)
		e.rcv.respond(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Test-Dropped", "1") // keep no copies
			w.WriteHeader(http.StatusNoContent)
		})
		root := e.steppedUpRoot(e.prog, "root@acme.test")
		ids := make([]string, users)
		for i := range ids {
			u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "U", Surname: "S", Email: fmt.Sprintf("u%d@acme.test", i)}})
			require.NoError(b, err)
			ids[i] = u.ID
		}
		for i := users; i < events; i++ {
			tag := strconv.Itoa(i)
			_, err := e.svc.UpdateUser(e.ctx, root, ids[i%users], core.UserPatch{Tag: &tag})
			require.NoError(b, err)
		}
		w := e.worker(nil)
		b.StartTimer()
		start := time.Now()
		n := drain(b, w)
		elapsed := time.Since(start)
		require.Equal(b, events+1, n, "every event once (and the root's factor)")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	}
}
