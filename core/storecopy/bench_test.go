package storecopy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/storecopy"
)

// BenchmarkCopyBoltToPostgres copies an installation of 10,000 users, each
// with a password, a session, an SMS factor and an audit event (its tree
// hashes too), from bbolt into PostgreSQL, and reports records a second.
func BenchmarkCopyBoltToPostgres(b *testing.B) {
	const users = 10_000
	t0 := time.Date(2026, time.March, 14, 9, 0, 0, 0, time.UTC)
	from := openBolt(b)
	require.NoError(b, from.Update(b.Context(), func(tx core.Tx) error {
		if err := tx.InsertProgramme(&core.Programme{ID: "p1", Name: "Bench", APIKeyHash: []byte("a"), UIKeyHash: []byte("u"), CreatedAt: t0}); err != nil {
			return err
		}
		return tx.InsertIdentity(&core.Identity{ID: "1", ProgrammeID: "p1", Type: core.Corporate, Name: "Acme", CreatedAt: t0})
	}))
	for start := 0; start < users; start += 1000 {
		require.NoError(b, from.Update(b.Context(), func(tx core.Tx) error {
			for i := start; i < start+1000; i++ {
				id := fmt.Sprint(1000 + i)
				u := &core.User{ID: id, IdentityID: "1", IdentityType: core.Corporate, ProgrammeID: "p1", Name: "U", Surname: id,
					Email: id + "@bench.test", Roles: []core.Role{core.RoleCardAssignee}, Active: true, CreatedAt: t0, UpdatedAt: t0}
				e := &core.AuditEvent{ProgrammeID: "p1", Actor: "1", Action: "user.create", Subject: id, At: t0}
				for _, err := range []error{
					tx.InsertUser(u),
					tx.PutPassword(&core.PasswordRecord{UserID: id, Hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", SetAt: t0}),
					tx.InsertSession(&core.Session{TokenHash: []byte("token-" + id), UserID: id, IdentityID: "1", ProgrammeID: "p1", CreatedAt: t0, LastSeen: t0}),
					tx.PutFactor(&core.Factor{UserID: id, Channel: core.ChannelSMS, Status: core.FactorActive, Mobile: &core.Mobile{CountryCode: "+44", Number: id}, CreatedAt: t0, UpdatedAt: t0}),
					tx.AppendAudit(e),
					core.AddAuditLeaf(tx, e),
				} {
					if err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
	var records int
	for b.Loop() {
		b.StopTimer()
		to := openPostgres(b)
		b.StartTimer()
		kinds, err := storecopy.Copy(b.Context(), from, to)
		require.NoError(b, err)
		records = 0
		for _, k := range kinds {
			records += k.Source.Count
		}
	}
	b.ReportMetric(float64(records), "records")
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
}
