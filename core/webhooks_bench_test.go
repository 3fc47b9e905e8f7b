package core_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// BenchmarkWebhookWriteOverhead measures user updates (one store
// transaction each) on a store without webhook endpoints and on one with two
// endpoints taking every event, whose worker delivers them meanwhile to a
// receiver on loopback (fan-out, claims, HTTP and all, on the same store and
// cores), one at a time and from 16 clients at once (group commit), in
// short alternating rounds so that the machine's load weighs on both alike,
// and reports the webhooks' overhead on the write in percent (target: at
// most 10): the median of the rounds' overheads, which a burst of load on
// the shared machine moves little, and that of the totals. A round is about
// a second of updates (roundUpdates per client), so that each takes in its
// share of the worker's rounds.
func BenchmarkWebhookWriteOverhead(b *testing.B) {
	const roundUpdates = 250
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			type side struct {
				update func(client, i int)
				check  func(hooked bool)
				cost   time.Duration
			}
			sides := map[bool]*side{}
			for _, hooked := range []bool{false, true} {
				e := newHookEnv(b)
				var second string
				if !hooked {
					require.NoError(b, e.svc.RemoveWebhook(e.ctx, e.prog.ID, e.hook.Webhook.ID))
				} else {
					second = e.addHook(e.rcv.srv.URL + "/second").Webhook.ID
					runWorker(b, e)
				}
				root := e.steppedUpRoot(e.prog, "root@acme.test")
				var users []string
				for c := range clients {
					u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith",
						Email: fmt.Sprintf("bea%d@acme.test", c)}})
					require.NoError(b, err)
					users = append(users, u.ID)
				}
				queued := 0
				if hooked {
					queued = countDeliveries(b, e, second)
				}
				sides[hooked] = &side{update: func(c, i int) {
					tag := strconv.Itoa(i)
					if _, err := e.svc.UpdateUser(e.ctx, root, users[c], core.UserPatch{Tag: &tag}); err != nil {
						b.Error(err)
					}
				}, check: func(hooked bool) {
					if hooked { // every update queued for the second endpoint
						require.Equal(b, queued+b.N, countDeliveries(b, e, second))
					}
				}}
			}
			per := roundUpdates * clients
			rounds := max(1, (b.N+per-1)/per)
			var overheads []float64
			b.ResetTimer()
			for r := range rounds {
				took := map[bool]time.Duration{}
				for _, hooked := range []bool{r%2 == 0, r%2 != 0} {
					s, start := sides[hooked], time.Now()
					var wg sync.WaitGroup
					for c := range clients {
						wg.Go(func() {
							for i := (r*b.N)/rounds + c; i < ((r+1)*b.N)/rounds; i += clients {
								s.update(c, i)
							}
						})
					}
					wg.Wait()
					took[hooked] = time.Since(start)
					s.cost += took[hooked]
				}
				overheads = append(overheads, 100*(float64(took[true])/float64(took[false])-1))
			}
			for hooked, s := range sides {
				s.check(hooked)
			}
			slices.Sort(overheads)
			median := overheads[len(overheads)/2]
			without, with := sides[false].cost/time.Duration(b.N), sides[true].cost/time.Duration(b.N)
			overall := 100 * (float64(with)/float64(without) - 1)
			b.ReportMetric(median, "overhead-%")
			b.ReportMetric(overall, "total-overhead-%")
			b.Logf("%d clients, %d rounds: %v an update without endpoints, %v with two (overhead: median of rounds %.1f%%, total %.1f%%)",
				clients, rounds, without, with, median, overall)
		})
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

// runWorker delivers e's webhooks to its receiver from another service on
// its store until the benchmark ends, as `deputy serve` does (a one-second tick).
func runWorker(b *testing.B, e *hookEnv) {
	e.rcv.respond(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Test-Dropped", "1") // keep no copies
		w.WriteHeader(http.StatusNoContent)
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.worker(nil).RunWebhookDelivery(ctx, time.Second) }()
	b.Cleanup(func() { stop(); <-done })
}

// countDeliveries counts the deliveries to an endpoint, after a last fan-out.
func countDeliveries(b *testing.B, e *hookEnv, endpointID string) int {
	require.NoError(b, e.svc.FanOutWebhooks(e.ctx))
	n, before := 0, uint64(0)
	for {
		ds, err := e.svc.WebhookDeliveries(e.ctx, e.prog.ID, endpointID, before, core.MaxWebhookDeliveriesPage)
		require.NoError(b, err)
		if len(ds) == 0 {
			return n
		}
		n, before = n+len(ds), ds[len(ds)-1].Seq
	}
}
