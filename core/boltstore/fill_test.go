package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// TestAppendedBucketsFillTheirPages writes webhook events and their
// deliveries as delivery rounds do, a hundred events to two endpoints per
// Update, and checks that the pages under them are filled (bbolt's default
// leaves appended pages half empty, which a round writes twice as many of).
func TestAppendedBucketsFillTheirPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	ctx, at := context.Background(), time.Date(2026, time.March, 14, 9, 0, 0, 0, time.UTC)
	for round := range 20 {
		require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
			for i := range 100 {
				at = at.Add(time.Millisecond)
				ev := &core.WebhookEvent{ID: fmt.Sprintf("evt_%016x%d", at.UnixNano(), i), ProgrammeID: "p", Type: "login",
					Subject: "u", Body: []byte(`{"type":"login","round":` + fmt.Sprint(round) + `}`), At: at}
				if err := tx.InsertWebhookEvent(ev); err != nil {
					return err
				}
				for _, endpoint := range []string{"whk_a", "whk_b"} {
					d := &core.WebhookDelivery{ProgrammeID: "p", EndpointID: endpoint, EventID: ev.ID, Subject: "u",
						State: core.DeliveryDelivered, Attempts: 1, LastStatus: 204, CreatedAt: at, DoneAt: at,
						Log: []core.WebhookAttempt{{At: at, Status: 204, Duration: time.Millisecond}}}
					if err := tx.AppendWebhookDelivery(d); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"webhook_events", "webhook_deliveries", "endpoint_deliveries"} {
			st := tx.Bucket([]byte("v1")).Bucket([]byte(name)).Stats()
			require.Positive(t, st.LeafAlloc, name)
			assert.Greater(t, float64(st.LeafInuse)/float64(st.LeafAlloc), 0.75, "%s: %d of %d bytes used in %d pages", name, st.LeafInuse, st.LeafAlloc, st.LeafPageN)
		}
		return nil
	}))
}
