package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPushBusAcrossStores: a wake-up published through one store (one
// replica's pool) reaches the listener of another on the same database,
// and the listener says when it is ready.
func TestPushBusAcrossStores(t *testing.T) {
	stores := replicas(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	ready, woken, ended := make(chan struct{}), make(chan string, 4), make(chan error, 1)
	go func() {
		ended <- stores[0].Listen(ctx, func() { close(ready) }, func(id string) { woken <- id })
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the listener never got ready")
	}
	require.NoError(t, stores[1].Publish(t.Context(), "100000042"))
	select {
	case id := <-woken:
		require.Equal(t, "100000042", id)
	case <-time.After(20 * time.Second):
		t.Fatal("the other replica's wake-up never arrived")
	}
	cancel()
	require.ErrorIs(t, <-ended, context.Canceled)
	require.NoError(t, stores[1].Publish(t.Context(), "100000043"), "the pool still serves after the listener left")
}
