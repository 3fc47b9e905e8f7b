package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func webhookEndpoint(programmeID, id string) *core.WebhookEndpoint {
	return &core.WebhookEndpoint{
		ID: id, ProgrammeID: programmeID, URL: "https://hooks.example/" + id, Events: []string{"login"},
		Secrets:      []core.WebhookSecret{{Sealed: []byte("new"), CreatedAt: t0}, {Sealed: []byte("old"), Until: t0.Add(time.Hour), CreatedAt: t0}},
		AllowPrivate: true, Disabled: true, DisabledReason: "410", CreatedAt: t0, Fanned: 42,
		Sending: &core.WebhookSending{Through: 50, Until: t0.Add(time.Minute), Claim: "c1"},
	}
}

func testWebhookEndpoints(t *testing.T, s core.Store) {
	e1, e2, other := webhookEndpoint("p1", "we_1"), webhookEndpoint("p1", "we_2"), webhookEndpoint("p2", "we_3")
	requireComplete(t, e1)
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, e := range []*core.WebhookEndpoint{e2, other, e1} {
			if err := tx.PutWebhookEndpoint(e); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(p string) []*core.WebhookEndpoint {
		t.Helper()
		es, err := read(t, s, func(tx core.ReadTx) ([]*core.WebhookEndpoint, error) { return tx.WebhookEndpoints(p) })
		require.NoError(t, err)
		return es
	}
	assert.Equal(t, []*core.WebhookEndpoint{e1, e2}, list("p1"), "id order")
	got, err := read(t, s, func(tx core.ReadTx) (*core.WebhookEndpoint, error) { return tx.WebhookEndpoint("we_1") })
	require.NoError(t, err)
	assert.Equal(t, e1, got)

	e1.URL, e1.Disabled = "https://hooks.example/changed", false
	mustUpdate(t, s, func(tx core.Tx) error { return tx.PutWebhookEndpoint(e1) })
	assert.Equal(t, []*core.WebhookEndpoint{e1, e2}, list("p1"), "replaced in place")

	mustUpdate(t, s, func(tx core.Tx) error { return tx.DeleteWebhookEndpoint("we_1") })
	assert.Equal(t, []*core.WebhookEndpoint{e2}, list("p1"))
	_, err = read(t, s, func(tx core.ReadTx) (*core.WebhookEndpoint, error) { return tx.WebhookEndpoint("we_1") })
	assert.ErrorIs(t, err, core.ErrRecordNotFound)
	assert.ErrorIs(t, tryWrite(t, s, func(tx core.Tx) error { return tx.DeleteWebhookEndpoint("we_1") }), core.ErrRecordNotFound)
}

func testWebhookEvent(t *testing.T, s core.Store) {
	e := &core.WebhookEvent{ID: "evt_1", ProgrammeID: "p1", Type: "login", Subject: "101", Body: json.RawMessage(`{"a":1}`), At: t0}
	requireComplete(t, e)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.InsertWebhookEvent(e) })
	got, err := read(t, s, func(tx core.ReadTx) (*core.WebhookEvent, error) { return tx.WebhookEvent("evt_1") })
	require.NoError(t, err)
	assert.Equal(t, e, got)
	assert.ErrorIs(t, tryWrite(t, s, func(tx core.Tx) error { return tx.InsertWebhookEvent(e) }), core.ErrDuplicate)
	_, err = read(t, s, func(tx core.ReadTx) (*core.WebhookEvent, error) { return tx.WebhookEvent("evt_2") })
	assert.ErrorIs(t, err, core.ErrRecordNotFound)
}

// testWebhookDeliveryIndexes: the due and queue indexes hold exactly the
// pending deliveries (due: those with a NextAt), whatever updates move them.
func testWebhookDeliveryIndexes(t *testing.T, s core.Store) {
	d := func(endpoint, subject string, nextAt time.Time) *core.WebhookDelivery {
		return &core.WebhookDelivery{ProgrammeID: "p1", EndpointID: endpoint, EventID: "evt", Subject: subject,
			State: core.DeliveryPending, NextAt: nextAt, CreatedAt: t0}
	}
	a1 := d("we_1", "101", t0.Add(2*time.Second))
	a2 := d("we_1", "101", time.Time{})
	b1 := d("we_1", "102", t0.Add(time.Second))
	c1 := d("we_2", "101", t0.Add(time.Hour))
	all := []*core.WebhookDelivery{a1, a2, b1, c1}
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, x := range all {
			if err := tx.AppendWebhookDelivery(x); err != nil {
				return err
			}
		}
		return nil
	})
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i].Seq, all[i-1].Seq, "Seq assigned by AppendWebhookDelivery")
	}
	dueExcept := func(now time.Time, limit, perEndpoint int, except ...string) []*core.WebhookDelivery {
		t.Helper()
		ds, err := read(t, s, func(tx core.ReadTx) ([]*core.WebhookDelivery, error) {
			return tx.DueWebhookDeliveries(now, limit, perEndpoint, except)
		})
		require.NoError(t, err)
		return ds
	}
	dueAtMost := func(now time.Time, limit, perEndpoint int) []*core.WebhookDelivery {
		return dueExcept(now, limit, perEndpoint)
	}
	due := func(now time.Time, limit int) []*core.WebhookDelivery { return dueAtMost(now, limit, limit) }
	queue := func(endpoint, subject string) []*core.WebhookDelivery {
		t.Helper()
		ds, err := read(t, s, func(tx core.ReadTx) ([]*core.WebhookDelivery, error) { return tx.WebhookQueue(endpoint, subject, 10) })
		require.NoError(t, err)
		return ds
	}
	assert.Equal(t, []*core.WebhookDelivery{b1, a1}, due(t0.Add(2*time.Second), 10), "soonest first; NextAt equal to now is due")
	assert.Equal(t, []*core.WebhookDelivery{b1}, due(t0.Add(2*time.Second), 1), "limit")
	assert.Empty(t, due(t0, 10))
	assert.Equal(t, []*core.WebhookDelivery{b1, c1}, dueAtMost(t0.Add(time.Hour), 10, 1), "one per endpoint: we_2's passes we_1's second")
	assert.Equal(t, []*core.WebhookDelivery{b1}, dueAtMost(t0.Add(time.Hour), 1, 1))
	assert.Equal(t, []*core.WebhookDelivery{b1, a1, c1}, dueAtMost(t0.Add(time.Hour), 3, 5), "a cap above the limit binds nothing")
	assert.Equal(t, []*core.WebhookDelivery{c1}, dueExcept(t0.Add(time.Hour), 1, 1, "we_1"), "we_1 excepted: we_2's is the first")
	assert.Equal(t, []*core.WebhookDelivery{c1}, dueExcept(t0.Add(time.Hour), 10, 1, "we_1", "we_3"))
	assert.Equal(t, []*core.WebhookDelivery{b1, a1}, dueExcept(t0.Add(time.Hour), 10, 10, "we_2"))
	assert.Equal(t, []*core.WebhookDelivery{a1, a2}, queue("we_1", "101"))
	assert.Equal(t, []*core.WebhookDelivery{b1}, queue("we_1", "102"))
	assert.Empty(t, queue("we_1", ""))

	// a1 is delivered and a2 becomes the head; b1 is leased for 30s.
	a1.State, a1.NextAt, a1.Attempts, a1.LastStatus, a1.DoneAt = core.DeliveryDelivered, time.Time{}, 1, 204, t0
	a1.Log = []core.WebhookAttempt{{At: t0, Status: 204, Error: "x", Duration: time.Millisecond}}
	a2.NextAt = t0
	b1.NextAt, b1.Attempts, b1.LastStatus = t0.Add(30*time.Second), 1, 503
	b1.Log = []core.WebhookAttempt{{At: t0, Status: 503, Duration: time.Second}}
	b1.UnsignableSince = t0
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, x := range []*core.WebhookDelivery{a1, a2, b1} {
			if err := tx.UpdateWebhookDelivery(x); err != nil {
				return err
			}
		}
		return nil
	})
	assert.Equal(t, []*core.WebhookDelivery{a2}, due(t0.Add(time.Minute-time.Second), 10)[:1])
	assert.Equal(t, []*core.WebhookDelivery{a2, b1, c1}, due(t0.Add(time.Hour), 10))
	assert.Equal(t, []*core.WebhookDelivery{a2}, queue("we_1", "101"), "delivered ones leave the queue")
	for _, want := range []*core.WebhookDelivery{a1, b1} { // every field of a delivery is set in one of them
		got, err := read(t, s, func(tx core.ReadTx) (*core.WebhookDelivery, error) { return tx.WebhookDelivery(want.Seq) })
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	assert.Equal(t, []*core.WebhookDelivery{b1, a2, a1}, deliveries(t, s, "we_1", 0, 10), "newest first")
	assert.Equal(t, []*core.WebhookDelivery{a2, a1}, deliveries(t, s, "we_1", b1.Seq, 10), "below before")
	assert.Equal(t, []*core.WebhookDelivery{b1}, deliveries(t, s, "we_1", 0, 1))
	assert.Equal(t, []*core.WebhookDelivery{c1}, deliveries(t, s, "we_2", 0, 10))
	assert.Empty(t, deliveries(t, s, "we_3", 0, 10))

	missing := d("we_1", "101", t0)
	missing.Seq = 999
	assert.ErrorIs(t, tryWrite(t, s, func(tx core.Tx) error { return tx.UpdateWebhookDelivery(missing) }), core.ErrRecordNotFound)
}

// testWebhookDeliveryAppends: a delivery round's many appends in one
// Update (more than a store may number at a time) get increasing Seqs, the
// Update's own reads see them, an Update rolled back leaves none, and the
// next Update's come after them all.
func testWebhookDeliveryAppends(t *testing.T, s core.Store) {
	d := func(i int) *core.WebhookDelivery {
		return &core.WebhookDelivery{ProgrammeID: "p1", EndpointID: "we_1", EventID: fmt.Sprintf("evt_%d", i), Subject: "101",
			State: core.DeliveryDelivered, Attempts: 1, LastStatus: 204, CreatedAt: t0, DoneAt: t0}
	}
	var round []*core.WebhookDelivery
	mustUpdate(t, s, func(tx core.Tx) error {
		for i := range 150 {
			x := d(i)
			if err := tx.AppendWebhookDelivery(x); err != nil {
				return err
			}
			round = append(round, x)
		}
		seen, err := tx.WebhookDeliveries("we_1", 0, 1000)
		require.NoError(t, err)
		assert.Len(t, seen, len(round), "the Update reads its own appends")
		return nil
	})
	for i := 1; i < len(round); i++ {
		require.Greater(t, round[i].Seq, round[i-1].Seq, "Seq assigned in order")
	}
	assert.ErrorIs(t, tryWrite(t, s, func(tx core.Tx) error {
		if err := tx.AppendWebhookDelivery(d(150)); err != nil {
			return err
		}
		return errRollback
	}), errRollback)
	next := d(151)
	mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendWebhookDelivery(next) })
	assert.Greater(t, next.Seq, round[len(round)-1].Seq, "a later Update's after the earlier's")

	got := deliveries(t, s, "we_1", 0, 1000) // newest first
	require.Len(t, got, len(round)+1, "the rolled-back append left nothing")
	assert.Equal(t, next, got[0])
	for i, x := range round {
		assert.Equal(t, x, got[len(round)-i])
	}
}

func deliveries(t *testing.T, s core.Store, endpoint string, before uint64, limit int) []*core.WebhookDelivery {
	t.Helper()
	ds, err := read(t, s, func(tx core.ReadTx) ([]*core.WebhookDelivery, error) {
		return tx.WebhookDeliveries(endpoint, before, limit)
	})
	require.NoError(t, err)
	return ds
}

// testFailedWebhookDeliveries: the failed deliveries of an endpoint, by
// failure time then Seq, from a time on and page by page through
// deliveries that failed together; pending and delivered ones, and other
// endpoints', never appear, and a delivery that fails later joins them.
func testFailedWebhookDeliveries(t *testing.T, s core.Store) {
	d := func(endpoint string, state core.WebhookDeliveryState, doneAt time.Time) *core.WebhookDelivery {
		return &core.WebhookDelivery{ProgrammeID: "p1", EndpointID: endpoint, EventID: "evt", Subject: "101",
			State: state, CreatedAt: t0, DoneAt: doneAt}
	}
	at := func(n int) time.Time { return t0.Add(time.Duration(n)*time.Second + 7) } // nanoseconds kept
	late := d("we_1", core.DeliveryFailed, at(3))                                   // appended first, fails last
	f1 := d("we_1", core.DeliveryFailed, at(1))                                     // f1, f2 and f3 failed in one round
	f2 := d("we_1", core.DeliveryFailed, at(1))
	f3 := d("we_1", core.DeliveryFailed, at(1))
	f0 := d("we_1", core.DeliveryFailed, at(0))
	ok := d("we_1", core.DeliveryDelivered, at(2))
	pending := d("we_1", core.DeliveryPending, time.Time{})
	other := d("we_2", core.DeliveryFailed, at(1))
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, x := range []*core.WebhookDelivery{late, f1, f2, f3, f0, ok, pending, other} {
			if err := tx.AppendWebhookDelivery(x); err != nil {
				return err
			}
		}
		return nil
	})
	failed := func(endpoint string, since time.Time, after uint64, limit int) []*core.WebhookDelivery {
		t.Helper()
		ds, err := read(t, s, func(tx core.ReadTx) ([]*core.WebhookDelivery, error) {
			return tx.FailedWebhookDeliveries(endpoint, since, after, limit)
		})
		require.NoError(t, err)
		return ds
	}
	assert.Equal(t, []*core.WebhookDelivery{f0, f1, f2, f3, late}, failed("we_1", t0, 0, 10), "by failure time, then Seq")
	assert.Equal(t, []*core.WebhookDelivery{f1, f2, f3, late}, failed("we_1", at(1), 0, 10), "since is inclusive, to the nanosecond")
	assert.Equal(t, []*core.WebhookDelivery{late}, failed("we_1", at(1).Add(1), 0, 10))
	assert.Equal(t, []*core.WebhookDelivery{f1, f2}, failed("we_1", at(1), 0, 2), "limit")
	assert.Equal(t, []*core.WebhookDelivery{f3, late}, failed("we_1", at(1), f2.Seq, 2), "the page after f2, among those that failed with it")
	assert.Equal(t, []*core.WebhookDelivery{late}, failed("we_1", at(1), f3.Seq, 2))
	assert.Empty(t, failed("we_1", at(3), late.Seq, 2))
	assert.Equal(t, []*core.WebhookDelivery{other}, failed("we_2", t0, 0, 10))
	assert.Empty(t, failed("we_3", t0, 0, 10))

	// The pending one fails; f0 is sent again and delivered (a store keeps
	// its index exact whatever an update moves).
	pending.State, pending.DoneAt = core.DeliveryFailed, at(2)
	f0.State = core.DeliveryDelivered
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, x := range []*core.WebhookDelivery{pending, f0} {
			if err := tx.UpdateWebhookDelivery(x); err != nil {
				return err
			}
		}
		return nil
	})
	assert.Equal(t, []*core.WebhookDelivery{f1, f2, f3, pending, late}, failed("we_1", t0, 0, 10))
}
