// Package otelstore decorates a core.Store with OpenTelemetry: a span around
// each transaction (store.update, store.view), their durations
// (deputy.store.transaction.duration) and the times a transaction's function
// ran again because its group commit failed (deputy.store.transaction.retries).
// It measures any store the same way, without touching the implementation.
package otelstore

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/deputyhq/deputy/core"
)

const scope = "github.com/deputyhq/deputy/telemetry/otelstore"

// Transaction kinds, the kind label and the spans' names.
var (
	kindUpdate = attribute.String("kind", "update")
	kindView   = attribute.String("kind", "view")
)

// latencyBuckets are transaction durations in seconds (a group commit waits for fsync).
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Store is a core.Store whose transactions are traced and measured.
type Store struct {
	core.Store
	tracer   trace.Tracer
	duration metric.Float64Histogram
	retries  metric.Int64Counter
}

var _ core.Store = (*Store)(nil)

// Wrap decorates s with spans from tp and metrics from mp.
func Wrap(s core.Store, tp trace.TracerProvider, mp metric.MeterProvider) (*Store, error) {
	m := mp.Meter(scope)
	duration, err := m.Float64Histogram("deputy.store.transaction.duration",
		metric.WithDescription("Time a store transaction took, from its start to its commit, by kind (update, view)."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, err
	}
	retries, err := m.Int64Counter("deputy.store.transaction.retries",
		metric.WithDescription("Times an update's function ran again after its group commit failed."), metric.WithUnit("{retry}"))
	if err != nil {
		return nil, err
	}
	retries.Add(context.Background(), 0, metric.WithAttributes(kindUpdate)) // shown at 0 from the start
	return &Store{Store: s, tracer: tp.Tracer(scope), duration: duration, retries: retries}, nil
}

// Update runs fn in a read-write transaction of the wrapped store.
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	var calls atomic.Int64
	err := s.observe(ctx, "store.update", kindUpdate, func(ctx context.Context) error {
		return s.Store.Update(ctx, func(tx core.Tx) error {
			calls.Add(1)
			return fn(tx)
		})
	})
	if n := calls.Load(); n > 1 {
		s.retries.Add(ctx, n-1, metric.WithAttributes(kindUpdate))
	}
	return err
}

// View runs fn in a read-only transaction of the wrapped store.
func (s *Store) View(ctx context.Context, fn func(core.ReadTx) error) error {
	return s.observe(ctx, "store.view", kindView, func(ctx context.Context) error {
		return s.Store.View(ctx, fn)
	})
}

// observe runs tx inside a span named name and records its duration.
func (s *Store) observe(ctx context.Context, name string, kind attribute.KeyValue, tx func(context.Context) error) error {
	ctx, span := s.tracer.Start(ctx, name, trace.WithAttributes(kind))
	defer span.End()
	start := time.Now()
	err := tx(ctx)
	s.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(kind))
	if err != nil {
		span.SetStatus(codes.Error, "transaction failed") // the error's text may name a record
	}
	return err
}
