package loadgen

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deputyhq/deputy/password"
)

// HashTime is how long n argon2id hashes with p take on GOMAXPROCS
// goroutines, the most a server hashes at once: n divided by it is the raw
// hash rate that sign-ins are compared with.
func HashTime(ctx context.Context, p password.Params, n int) (time.Duration, error) {
	h := password.NewHasher(p, runtime.GOMAXPROCS(0))
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := h.Hash(ctx, "Str0ng-Passw0rd"); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}
