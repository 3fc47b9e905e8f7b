package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
)

// BenchmarkBulkUserCreate submits a bulk of 10,000 user creations over HTTP,
// executes it and runs it on the embedded store as deputy serve's runner
// does, each operation the full userCreate (audit event, Merkle leaf,
// indexes) in its own transaction. It reports the seconds from execute to
// COMPLETED (issue 13 target: under 60) and the operations per second.
func BenchmarkBulkUserCreate(b *testing.B) {
	const n = core.MaxBulkOperations
	inst := testserver.Start(b, testserver.Options{})
	c := newBenchClient(inst)
	_, token := c.seedRoot(b, "root@bench.test")
	c.stepUp(b, token)
	ctx := context.Background()
	var total time.Duration
	for i := range b.N {
		rows := make([]any, n)
		for j := range rows {
			rows[j] = map[string]any{"requestBody": map[string]any{"name": "Bulk", "surname": "User",
				"email": fmt.Sprintf("bulk%d-%d@bench.test", i, j), "roles": []string{string(core.RoleCardAssignee)}}}
		}
		var submitted struct{ BulkID string }
		if err := c.do(ctx, "POST", "/multi/bulks/users", token, rows, http.StatusCreated, &submitted); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := c.do(ctx, "POST", "/multi/bulks/"+submitted.BulkID+"/execute", token, nil, http.StatusNoContent, nil); err != nil {
			b.Fatal(err)
		}
		if err := inst.Service.ProcessBulks(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		var got struct{ Status string }
		if err := c.do(ctx, "GET", "/multi/bulks/"+submitted.BulkID, token, nil, http.StatusOK, &got); err != nil {
			b.Fatal(err)
		}
		if got.Status != string(core.BulkCompleted) {
			b.Fatalf("bulk %s is %s, want COMPLETED", submitted.BulkID, got.Status)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/bulk")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "ops/s")
}
