package core_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/webhookbench"
)

// BenchmarkWebhookWriteOverhead measures user updates (one store
// transaction each) on a store without webhook endpoints and on one with one
// or two endpoints taking every event (an embedder's backend; or two, which
// doubles the deliveries), whose worker delivers them meanwhile to a
// receiver on loopback (fan-out, claims, HTTP and all, on the same store and
// cores), one at a time and from 16 clients at once (group commit). The
// receiver is a process of its own, as an embedder's is: it shares the
// machine's cores, but its goroutines and garbage are not the Go runtime's
// of the process it is measuring. It runs b.N pairs of alternating rounds,
// one on each store, so that the machine's load weighs on both alike. The
// worker runs in the hooked rounds only (webhookbench.Worker), and a round
// measures its updates only in a window after a warm-up (writeWarmUp), by
// when the worker has sent what it had left from the round before and
// delivers as fast as the updates come, if it can: what the worker does in
// the window, rather than each update's own deliveries, which it might send
// after the window (when it pauses, up to a round of its own). It reports
// the webhooks' overhead on the write in percent (target: at most 10): the
// median of the pairs' overheads, which a burst of load on the shared
// machine moves little, and that of the totals; and how many deliveries the
// worker made in the windows, for each 100 their updates caused (less than
// 100: it fell behind, and the overheads cover that share of the work).
//
// More runs take the cost apart: one update at a time with no worker (what
// the events cost the writes' own path, their audit events being the
// outbox, with the delivery left for later); each of the first four with
// the minimal receiver instead (webhookbench.StartMinimal: Deputy's whole
// delivery work, with as little of the receiver's as can be on the shared
// cores, an embedder's receiver running on a machine of its own), and with
// a worker whose sender answers 204 itself (Deputy's delivery work but the
// HTTP exchange: fan-out, claims, signatures and records); and one update
// at a time with no endpoints at all but, in the rounds that would have
// them, HTTP traffic like one endpoint's posted to the receiver by a process
// without Deputy (webhookbench.Traffic): what that traffic costs this
// machine whoever sends it.
func BenchmarkWebhookWriteOverhead(b *testing.B) {
	for _, hooks := range []int{1, 2} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("endpoints=%d/clients=%d/worker=on", hooks, clients), func(b *testing.B) { writeOverhead(b, hooks, clients, deliverHTTP) })
		}
	}
	b.Run("endpoints=2/clients=1/worker=off", func(b *testing.B) { writeOverhead(b, 2, 1, deliverNothing) })
	for _, hooks := range []int{1, 2} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("endpoints=%d/clients=%d/worker=to-minimal-receiver", hooks, clients), func(b *testing.B) { writeOverhead(b, hooks, clients, deliverHTTPMinimal) })
			b.Run(fmt.Sprintf("endpoints=%d/clients=%d/worker=without-http", hooks, clients), func(b *testing.B) { writeOverhead(b, hooks, clients, deliverWithoutHTTP) })
		}
	}
	b.Run("endpoints=0/clients=1/traffic=without-deputy", func(b *testing.B) { writeOverhead(b, 0, 1, trafficWithoutDeputy) })
}

// delivery is what runs beside the writes of a writeOverhead's hooked rounds.
type delivery int

const (
	deliverHTTP          delivery = iota // a worker, posting to the receiver
	deliverHTTPMinimal                   // a worker, posting to the minimal receiver
	deliverNothing                       // nothing: the events stay queued
	deliverWithoutHTTP                   // a worker whose sender answers 204 itself
	trafficWithoutDeputy                 // a webhookbench.Traffic posting to the receiver
)

// answering is a webhook sender that answers 204 without a network, and
// counts the requests.
type answering struct{ sent atomic.Int64 }

func (a *answering) Send(context.Context, *core.WebhookRequest) core.WebhookResult {
	a.sent.Add(1)
	return core.WebhookResult{Status: http.StatusNoContent}
}

// writeOverhead is a run of BenchmarkWebhookWriteOverhead with hooks
// endpoints, clients at once, and d beside the hooked rounds.
func writeOverhead(b *testing.B, hooks, clients int, d delivery) {
	type side struct {
		update  func(client int)
		resume  func()
		pause   func()
		check   func()
		cost    time.Duration
		updates int64 // in the measured windows
		all     int64 // warm-ups included
	}
	sides := map[bool]*side{}
	startReceiver := webhookbench.Start
	if d == deliverHTTPMinimal {
		startReceiver = webhookbench.StartMinimal
	}
	rcv := startReceiver(b)
	var endpoints []string // the hooked side's
	queued := 0            // deliveries before the rounds, to the endpoints
	made := rcv.Posts      // deliveries or posts so far beside the hooked rounds
	for _, hooked := range []bool{false, true} {
		e := newRunningHookEnv(b)
		require.NoError(b, e.svc.RemoveWebhook(e.ctx, e.prog.ID, e.hook.Webhook.ID)) // its receiver is in this process
		if hooked {
			for i := range hooks {
				endpoints = append(endpoints, e.addHook(fmt.Sprintf("%s/%d", rcv.URL, i)).Webhook.ID)
			}
		}
		root := e.steppedUpRoot(e.prog, "root@acme.test")
		var users []string
		for c := range clients {
			u, err := e.svc.CreateUser(e.ctx, root, core.NewUser{UserDetails: core.UserDetails{Name: "Bea", Surname: "Smith",
				Email: fmt.Sprintf("bea%d@acme.test", c)}})
			require.NoError(b, err)
			users = append(users, u.ID)
		}
		if hooked {
			queued = countDeliveries(b, e, endpoints...)
		}
		s := &side{resume: func() {}, pause: func() {}}
		var tags atomic.Int64 // each update changes its user's tag: an audit event each
		s.update = func(c int) {
			tag := strconv.FormatInt(tags.Add(1), 10)
			if _, err := e.svc.UpdateUser(e.ctx, root, users[c], core.UserPatch{Tag: &tag}); err != nil {
				b.Error(err)
			}
		}
		if hooked {
			var worker *webhookbench.Worker
			switch d {
			case deliverHTTP, deliverHTTPMinimal:
				worker = webhookbench.NewWorker(b, e.worker(nil))
			case deliverWithoutHTTP:
				sender := &answering{}
				made = func(testing.TB) int64 { return sender.sent.Load() }
				worker = webhookbench.NewWorker(b, e.worker(sender))
			case trafficWithoutDeputy:
				traffic := webhookbench.StartTraffic(b, rcv.URL+"/traffic")
				s.resume, s.pause = traffic.Resume, traffic.Pause
			}
			if worker != nil {
				s.resume, s.pause = worker.Resume, worker.Pause
			}
		}
		s.check = func() {
			if hooked { // every update queued for each endpoint
				require.Equal(b, queued+hooks*int(s.all), countDeliveries(b, e, endpoints...))
			}
		}
		sides[hooked] = s
	}
	// updates runs s's updates from every client for span, and returns how
	// many were made and how long they took.
	updates := func(s *side, span time.Duration) (int64, time.Duration) {
		start := time.Now()
		var n atomic.Int64
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for time.Since(start) < span {
					s.update(c)
					n.Add(1)
				}
			})
		}
		wg.Wait()
		s.all += n.Load()
		return n.Load(), time.Since(start)
	}
	var overheads []float64
	var inWindow int64 // deliveries or posts made in the hooked windows
	b.ResetTimer()
	for r := range b.N {
		perUpdate := map[bool]time.Duration{}
		for _, hooked := range []bool{r%2 == 0, r%2 != 0} {
			s := sides[hooked]
			s.resume()
			updates(s, writeWarmUp)
			before := made(b)
			n, took := updates(s, writeWindow)
			if hooked {
				inWindow += made(b) - before
			}
			s.pause()
			s.cost, s.updates = s.cost+took, s.updates+n
			perUpdate[hooked] = took / time.Duration(n)
		}
		overheads = append(overheads, 100*(float64(perUpdate[true])/float64(perUpdate[false])-1))
	}
	b.StopTimer()
	for _, s := range sides {
		s.check()
	}
	slices.Sort(overheads)
	median := overheads[len(overheads)/2]
	without := sides[false].cost / time.Duration(sides[false].updates)
	with := sides[true].cost / time.Duration(sides[true].updates)
	overall := 100 * (float64(with)/float64(without) - 1)
	b.ReportMetric(median, "overhead-%")
	b.ReportMetric(overall, "total-overhead-%")
	if d == trafficWithoutDeputy { // posts for each update of the windows with traffic
		b.ReportMetric(100*float64(inWindow)/float64(sides[true].updates), "posts-per-100-updates")
		b.Logf("%d pairs of rounds: %v an update, %v with traffic from another process, %.0f posts for each 100 updates (overhead: median of pairs %.1f%%, total %.1f%%)",
			b.N, without, with, 100*float64(inWindow)/float64(sides[true].updates), median, overall)
		return
	}
	delivered := 100 * float64(inWindow) / float64(hooks*int(sides[true].updates))
	b.ReportMetric(delivered, "delivered-in-window-%")
	b.Logf("%d clients, %d pairs of rounds: %v an update without endpoints, %v with %d (overhead: median of pairs %.1f%%, total %.1f%%); deliveries made in the windows: %.0f%% of those their updates caused",
		clients, b.N, without, with, hooks, median, overall, delivered)
}

// A writeOverhead round runs updates for writeWarmUp and then measures
// them for writeWindow.
const (
	writeWarmUp = time.Second / 2
	writeWindow = time.Second
)

// BenchmarkWebhookDelivery has a worker (RunWebhookDelivery, rests and
// all) deliver a backlog of WEBHOOK_EVENTS events (default 5,000) of 100
// users, and of one user (which must go in order), to a receiver on
// loopback and reports events per second (target: at least 1,000).
func BenchmarkWebhookDelivery(b *testing.B) {
	events := 5000
	if s := os.Getenv("WEBHOOK_EVENTS"); s != "" {
		events, _ = strconv.Atoi(s)
	}
	for _, users := range []int{100, 1} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := newRunningHookEnv(b)
				var got atomic.Int64
				e.rcv.respond(func(w http.ResponseWriter, _ *http.Request) {
					got.Add(1)
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
				want := int64(events + 1) // and the root's factor
				ctx, stop := context.WithCancel(e.ctx)
				done := make(chan struct{})
				b.StartTimer()
				start := time.Now()
				go func() { defer close(done); w.RunWebhookDelivery(ctx, time.Second) }()
				for got.Load() < want {
					time.Sleep(time.Millisecond)
				}
				elapsed := time.Since(start)
				stop()
				<-done
				require.Equal(b, want, got.Load(), "every event once")
				b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
			}
		})
	}
}

// newRunningHookEnv returns a hookEnv on a running clock, as deputy serve
// has: webhook event ids begin with their time so that the store appends
// them (webhookEventID), and on a still clock they would share one time and
// land all over its index, a write each fan-out pays by the index's size.
func newRunningHookEnv(b *testing.B) *hookEnv { return newHookEnvOn(b, core.NewOffsetClock(nil)) }

// countDeliveries counts the deliveries to endpoints, after a last fan-out.
func countDeliveries(b *testing.B, e *hookEnv, endpointIDs ...string) int {
	require.NoError(b, e.svc.FanOutWebhooks(e.ctx))
	n := 0
	for _, id := range endpointIDs {
		for before := uint64(0); ; {
			ds, err := e.svc.WebhookDeliveries(e.ctx, e.prog.ID, id, before, core.MaxWebhookDeliveriesPage)
			require.NoError(b, err)
			if len(ds) == 0 {
				break
			}
			n, before = n+len(ds), ds[len(ds)-1].Seq
		}
	}
	return n
}
