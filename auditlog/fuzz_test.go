package auditlog_test

import (
	"bytes"
	"testing"

	"github.com/deputyhq/deputy/auditlog"
)

// FuzzVerify feeds arbitrary export files to Verify, with a checkpoint saved
// from the genuine log. It must never panic, and whatever it accepts must hold
// every event that checkpoint covers: the file is the attacker's, the key and
// the saved checkpoint are not.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	var l log
	fx.grow(f, &l, 3)
	saved := fx.grow(f, &l, 2)
	genuine := fx.export(f, l.leaves, l.checkpoints)
	f.Add(genuine)
	f.Add(fx.export(f, l.leaves[:3], l.checkpoints[:1]))
	f.Add(append(bytes.Clone(genuine), `{"proof":{"size":2,"hashes":["AA=="]}}`+"\n"...))
	f.Add([]byte(`{"deputyAuditExport":1,"origin":"deputy/audit/p1","size":-1}` + "\n"))
	f.Add([]byte(`{"deputyAuditExport":1,"origin":"deputy/audit/p1","size":1}` + "\n" + `{"leaf":null}` + "\n"))
	f.Add([]byte(`{"deputyAuditExport":1}` + "\n" + `{"checkpoint":"deputy/audit/p1\n-5\nAA==\n\n— deputy-test AAAA\n"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := auditlog.Verify(bytes.NewReader(data), fx.verifier, fx.origin, [][]byte{saved})
		if err != nil {
			return
		}
		if rep.Events < int64(len(l.leaves)) || rep.Covered < int64(len(l.leaves)) || rep.Covered > rep.Events {
			t.Fatalf("accepted a log that does not hold the %d signed events: %+v", len(l.leaves), rep)
		}
	})
}
