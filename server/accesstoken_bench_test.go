package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/loadgen"
	"github.com/deputyhq/deputy/internal/testserver"
)

// BenchmarkAccessToken measures POST /multi/access_token over loopback with
// 64 clients exchanging one sign-in's token (issue 13 target: >= 5,000/s).
// The per-sign-in budget is on but out of reach, so every exchange pays for
// its counter beside the new session and its audit event.
func BenchmarkAccessToken(b *testing.B) {
	huge := core.RateLimit{Requests: 1 << 30, Window: time.Minute}
	inst := testserver.Start(b, testserver.Options{Config: core.Config{RateLimits: &core.RateLimits{AccessTokensPerSignIn: huge}}})
	c := newBenchClient(inst)
	_, token := c.seedRoot(b, "root@bench.test")
	b.ResetTimer()
	res := loadgen.Run(context.Background(), loadgen.Config{Workers: 64, Requests: b.N, Do: func(ctx context.Context, _, _ int) error {
		var out struct{ Token string }
		return c.do(ctx, "POST", "/multi/access_token", token, map[string]any{}, 200, &out)
	}})
	b.StopTimer()
	report(b, res)
}
