package webhook_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/loadgen"
	"github.com/deputyhq/deputy/internal/webhookbench"
	"github.com/deputyhq/deputy/webhook"
)

// BenchmarkSend posts signed events of a typical size (600 bytes), one after
// the other as a delivery chain does, over a kept-alive connection to a
// receiver in a process of its own, and reports the CPU time this process
// spent on each: what each delivery costs Deputy's cores beyond its store
// work (BenchmarkWebhookWriteOverhead in core weighs both on writes).
func BenchmarkSend(b *testing.B) {
	rcv := webhookbench.Start(b)
	s := webhook.NewSender(5*time.Second, "deputy-bench")
	body := bytes.Repeat([]byte("a"), 600)
	req := &core.WebhookRequest{URL: rcv.URL + "/login", Body: body, AllowPrivate: true,
		Header: core.SignWebhook("evt_bench", body, time.Now(), []byte("api-key"), [][]byte{[]byte("secret")})}
	if r := s.Send(b.Context(), req); r.Status != 204 { // the connection, opened before the clock runs
		b.Fatalf("receiver: %+v", r)
	}
	cpu := loadgen.SelfCPU()
	for b.Loop() {
		if r := s.Send(b.Context(), req); r.Status != 204 {
			b.Fatalf("receiver: %+v", r)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((loadgen.SelfCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	if got := rcv.Posts(b); got != int64(b.N)+1 {
		b.Fatalf("the receiver answered %d posts, want %d", got, b.N+1)
	}
}
