// Package loadgen drives a fixed amount of work through a pool of concurrent
// workers and reports throughput and latency percentiles. The benchmarks behind
// `make bench` use it to load Deputy's HTTP API over loopback.
package loadgen

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one run.
type Config struct {
	// Workers is how many requests are in flight at once.
	Workers int
	// Requests is the total number of calls of Do across all workers.
	Requests int
	// Do performs one request; worker is in [0, Workers), seq counts from 0 within the run.
	Do func(ctx context.Context, worker, seq int) error
}

// Result summarises a run.
type Result struct {
	Requests int
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration

	latencies []time.Duration // of each request, sorted; none for wrk's runs
}

// PerSecond is the throughput of successful and failed requests together.
func (r Result) PerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d requests in %v: %.0f/s, p50 %v, p99 %v, max %v, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.P50, r.P99, r.Max, r.Errors)
}

// Run executes cfg and returns its result.
func Run(ctx context.Context, cfg Config) Result {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	lat := make([]time.Duration, cfg.Requests)
	var next, errs atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Requests || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := cfg.Do(ctx, w, i)
				lat[i] = time.Since(t)
				if err != nil {
					errs.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	res := Result{Requests: cfg.Requests, Errors: int(errs.Load()), FirstErr: firstErr, Elapsed: time.Since(start), latencies: lat}
	res.summarise()
	return res
}

// Combine adds up runs made one after another, as one run: their requests,
// errors and elapsed times, and percentiles over all their latencies.
func Combine(runs ...Result) Result {
	var all Result
	for _, r := range runs {
		all.Requests += r.Requests
		all.Errors += r.Errors
		all.Elapsed += r.Elapsed
		all.latencies = append(all.latencies, r.latencies...)
		if all.FirstErr == nil {
			all.FirstErr = r.FirstErr
		}
	}
	all.summarise()
	return all
}

// summarise sorts the latencies and sets the percentiles from them.
func (r *Result) summarise() {
	lat := r.latencies
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	r.P50, r.P99, r.Max = pct(0.50), pct(0.99), lat[len(lat)-1]
}
