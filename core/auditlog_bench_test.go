package core_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/auditlog"
	"github.com/deputyhq/deputy/core"
)

// BenchmarkAuditExportVerify exports a programme's log of AUDIT_EVENTS events
// (default 1,000,000) to a file and verifies the file, reporting each in
// seconds (target: under 60 s each). The log is written first, 10,000 events
// per transaction, through the same leaf code as every change.
func BenchmarkAuditExportVerify(b *testing.B) {
	events := 1_000_000
	if s := os.Getenv("AUDIT_EVENTS"); s != "" {
		events, _ = strconv.Atoi(s)
	}
	signer, verifier := auditKeys(b)
	e := newCoreEnv(b, func(c *core.Config) { c.AuditSigner, c.AuditVerifier = signer, verifier })
	for done := 1; done < events; { // programme.create is the first
		n := min(10_000, events-done)
		require.NoError(b, e.store.Update(e.ctx, func(tx core.Tx) error {
			for i := range n {
				ev := &core.AuditEvent{ProgrammeID: e.prog.ID, Actor: "api", Action: "user.login", Subject: strconv.Itoa(done + i),
					RequestRef: "0123456789abcdef01234567", At: time.Now(), Details: map[string]string{"channel": "SMS"}}
				if err := tx.AppendAudit(ev); err != nil {
					return err
				}
				if err := core.AddAuditLeaf(tx, ev); err != nil {
					return err
				}
			}
			return nil
		}))
		done += n
	}
	_, err := e.svc.CheckpointAudit(e.ctx)
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	b.ResetTimer()
	for range b.N {
		f, err := os.Create(path)
		require.NoError(b, err)
		start := time.Now()
		require.NoError(b, e.svc.ExportAudit(e.ctx, e.prog.ID, f))
		require.NoError(b, f.Close())
		export := time.Since(start)
		f, err = os.Open(path)
		require.NoError(b, err)
		start = time.Now()
		rep, err := auditlog.Verify(f, verifier, "", nil)
		require.NoError(b, err)
		verify := time.Since(start)
		f.Close()
		require.Equal(b, int64(events), rep.Covered, fmt.Sprint(rep))
		b.ReportMetric(export.Seconds(), "export-s")
		b.ReportMetric(verify.Seconds(), "verify-s")
		b.ReportMetric(float64(events), "events")
	}
}
