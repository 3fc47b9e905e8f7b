package pgstore_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/webhook"
)

// TestWebhookFanOutAcrossReplicas writes 120 user updates (audit events)
// through two replicas while both deliver webhooks in a loop: the receiver
// gets each update's event exactly once, and each user's in the order of
// the audit log, though both replicas fan out the same log at once.
func TestWebhookFanOutAcrossReplicas(t *testing.T) {
	stores := replicas(t, 4)
	var (
		mu   sync.Mutex
		seen = map[string]int{}   // webhook-id: deliveries
		tags = map[string][]int{} // user: the tags of their events, in arrival order
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Credential struct{ ID string } `json:"credential"`
			Details    map[string]string   `json:"details"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		tag, _ := strconv.Atoi(ev.Details["tag"])
		mu.Lock()
		defer mu.Unlock()
		seen[r.Header.Get("webhook-id")]++
		tags[ev.Credential.ID] = append(tags[ev.Credential.ID], tag)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	ctx := t.Context()
	var svcs [2]*core.Service
	for i, s := range stores {
		var err error
		svcs[i], err = core.New(ctx, core.Config{Sandbox: true, Logger: slog.New(slog.DiscardHandler)}, s,
			core.Integrations{SMS: core.NewOutbox(s, core.SystemClock{}), Email: core.NewOutbox(s, core.SystemClock{}),
				Webhooks: webhook.NewSender(5*time.Second, "deputy-test")}, core.SystemClock{})
		require.NoError(t, err)
	}
	p, err := svcs[0].CreateProgramme(ctx, core.NewProgramme{Name: "Hooked"})
	require.NoError(t, err)
	_, err = svcs[1].AddWebhook(ctx, p.Programme.ID, core.NewWebhook{URL: rcv.URL, Events: []string{core.EventUserUpdated}, AllowPrivate: true})
	require.NoError(t, err)
	users := []string{"u1", "u2", "u3"}
	require.NoError(t, stores[0].Update(ctx, func(tx core.Tx) error {
		for _, id := range users {
			if err := tx.InsertIdentity(&core.Identity{ID: id, ProgrammeID: p.Programme.ID, Type: core.Corporate, Name: "Acme"}); err != nil {
				return err
			}
			if err := tx.InsertUser(&core.User{ID: id, IdentityID: id, IdentityType: core.Corporate, ProgrammeID: p.Programme.ID,
				Root: true, Name: "Ann", Surname: "Smith", Email: id + "@acme.test", Active: true}); err != nil {
				return err
			}
		}
		return nil
	}))

	deliverCtx, stop := context.WithCancel(ctx)
	var workers sync.WaitGroup
	for _, svc := range svcs {
		workers.Go(func() {
			for deliverCtx.Err() == nil {
				if _, _, err := svc.DeliverWebhooks(deliverCtx); err != nil && deliverCtx.Err() == nil {
					t.Error(err)
				}
			}
		})
	}
	const updates = 120
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := w; i < updates; i += 4 {
				user := users[i%len(users)]
				err := stores[i%2].Update(ctx, func(tx core.Tx) error {
					e := &core.AuditEvent{ProgrammeID: p.Programme.ID, Actor: user, Action: "user.update", Subject: user,
						At: time.Now(), Details: map[string]string{"tag": strconv.Itoa(i)}}
					if err := tx.AppendAudit(e); err != nil {
						return err
					}
					return core.AddAuditLeaf(tx, e)
				})
				assert.NoError(t, err)
			}
		})
	}
	writers.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= updates
	}, 30*time.Second, 10*time.Millisecond)
	stop()
	workers.Wait()

	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, updates, "one event per update")
	for id, n := range seen {
		assert.Equal(t, 1, n, "deliveries of %s", id)
	}
	var order []int // each user's tags in the audit log's order
	require.NoError(t, stores[0].View(ctx, func(tx core.ReadTx) error {
		as, err := tx.AuditEvents(p.Programme.ID, 0, 1000)
		for _, a := range as {
			if a.Action == "user.update" {
				tag, _ := strconv.Atoi(a.Details["tag"])
				order = append(order, tag)
			}
		}
		return err
	}))
	for _, user := range users {
		var want []int
		for _, tag := range order {
			if users[tag%len(users)] == user {
				want = append(want, tag)
			}
		}
		assert.Equal(t, want, tags[user], "events of %s in the audit log's order", user)
	}
}
