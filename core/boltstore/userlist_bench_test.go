package boltstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// The seeded database of BenchmarkListUsers100k: benchUsers authorised users
// of one identity, kept in the system's temporary directory under a name
// carrying benchSeedVersion and the schema version, so that later runs reuse
// it. Bump benchSeedVersion when the seeded users change.
const (
	benchUsers       = 100_000
	benchSeedVersion = "v1"
	benchIdentity    = "200000000"
	benchPage        = 100
)

var benchSeed struct {
	once sync.Once
	path string
	err  error
}

// benchUser returns the i-th seeded user: 80% active, three in four tagged
// with one of 50 tags, and each role held by a different share of users.
func benchUser(i int) *core.User {
	u := &core.User{
		ID:          strconv.Itoa(300_000_000 + i),
		IdentityID:  benchIdentity,
		ProgrammeID: "p1",
		Name:        "User",
		Surname:     strconv.Itoa(i),
		Email:       fmt.Sprintf("user%d@example.com", i),
		Active:      i%5 != 0,
		CreatedAt:   time.Unix(1_700_000_000+int64(i), 0).UTC(),
	}
	if i%4 != 0 {
		u.Tag = fmt.Sprintf("team-%d", i%50)
	}
	for _, r := range []struct {
		role      core.Role
		every, at int
	}{
		{core.RoleAdmin, 20, 0},            // 5%
		{core.RoleCardAssignee, 2, 0},      // 50%
		{core.RoleFundsManagement, 5, 1},   // 20%
		{core.RoleCardsManagement, 10, 3},  // 10%
		{core.RoleAccessManagement, 25, 7}, // 4%
	} {
		if i%r.every == r.at {
			u.Roles = append(u.Roles, r.role)
		}
	}
	return u
}

// seedListUsers writes the seeded database to a temporary file in batches of
// 5,000 users per Update and moves it to path when it is complete.
func seedListUsers(path string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	s, err := Open(tmp, Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	err = s.Update(ctx, func(tx core.Tx) error {
		if err := tx.InsertProgramme(&core.Programme{ID: "p1", Name: "Bench"}); err != nil {
			return err
		}
		if err := tx.InsertIdentity(&core.Identity{ID: benchIdentity, ProgrammeID: "p1", Type: core.Corporate}); err != nil {
			return err
		}
		return tx.InsertUser(&core.User{ID: benchIdentity, IdentityID: benchIdentity, ProgrammeID: "p1", Root: true, Email: "root@example.com", Active: true})
	})
	const batch = 5_000
	for start := 0; err == nil && start < benchUsers; start += batch {
		err = s.Update(ctx, func(tx core.Tx) error {
			for i := start; i < min(start+batch, benchUsers); i++ {
				if err := tx.InsertUser(benchUser(i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err = errors.Join(err, s.Close()); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return os.Rename(tmp, path)
}

// openListUsers100k opens the seeded database, seeding it first if no earlier
// run left it behind.
func openListUsers100k(b *testing.B) *Store {
	b.Helper()
	benchSeed.once.Do(func() {
		name := fmt.Sprintf("deputy-bench-listusers-100k-%s-schema%d.db", benchSeedVersion, len(migrations))
		benchSeed.path = filepath.Join(os.TempDir(), name)
		if _, err := os.Stat(benchSeed.path); err == nil {
			return
		}
		start := time.Now()
		benchSeed.err = seedListUsers(benchSeed.path)
		b.Logf("seeded %d users into %s in %v", benchUsers, benchSeed.path, time.Since(start).Round(time.Millisecond))
	})
	require.NoError(b, benchSeed.err)
	s, err := Open(benchSeed.path, Options{LockTimeout: time.Minute})
	require.NoError(b, err)
	b.Cleanup(func() { assert.NoError(b, s.Close()) })
	_, total := benchList(b, s, core.UserFilter{})
	require.Equal(b, benchUsers, total, "users in %s: remove it to seed it again", benchSeed.path)
	return s
}

// benchList runs ListUsers on the seeded identity in its own View.
func benchList(b *testing.B, s *Store, f core.UserFilter) ([]*core.User, int) {
	var (
		us    []*core.User
		total int
	)
	err := s.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		us, total, err = tx.ListUsers(benchIdentity, f)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return us, total
}

// benchIDs runs the index part of ListUsers alone: the page's ids, without
// reading the users.
func benchIDs(b *testing.B, s *Store, f core.UserFilter) []string {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ids, _, err = (&readTx{tx: tx, cache: newRecordCaches()}).listIDs(benchIdentity, f)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkListUsers100k lists pages of 100 of one identity's 100,000 users,
// each in its own View as GET /multi/users does, and reports the 99th
// percentile of the pages' times next to their mean. The "page" runs are
// ListUsers itself; the "index" runs find the same pages' ids without
// reading the users, to tell the index's share from the decoding of the
// page's 100 users.
func BenchmarkListUsers100k(b *testing.B) {
	s := openListUsers100k(b)
	active := true
	for _, c := range []struct {
		name   string
		filter core.UserFilter
		// randomOffset pages from a random offset among the matching users.
		randomOffset bool
	}{
		{name: "all/offset=0"},
		{name: "all/random-offset", randomOffset: true},
		{name: "active/random-offset", filter: core.UserFilter{Active: &active}, randomOffset: true},
		{name: "tag", filter: core.UserFilter{Tag: "team-7"}},
		{name: "role", filter: core.UserFilter{Roles: []core.Role{core.RoleFundsManagement}}},
		{name: "two-roles", filter: core.UserFilter{Roles: []core.Role{core.RoleFundsManagement, core.RoleCardsManagement}}},
		{name: "two-roles/random-offset", filter: core.UserFilter{Roles: []core.Role{core.RoleFundsManagement, core.RoleCardsManagement}}, randomOffset: true},
		{name: "email", filter: core.UserFilter{Email: "user54321@example.com"}},
		{name: "search", filter: core.UserFilter{Search: "user54321"}},
	} {
		_, total := benchList(b, s, c.filter)
		require.NotZero(b, total, c.name)
		for _, part := range []string{"page", "index"} {
			if part == "index" && (c.filter.Email != "" || c.filter.Search != "") {
				continue // an email is one Get of identity_email; a search reads every user
			}
			b.Run(c.name+"/"+part, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				var times []time.Duration
				for b.Loop() {
					f := c.filter
					f.Limit = benchPage
					if c.randomOffset {
						f.Offset = rng.IntN(total)
					}
					start := time.Now()
					var n int
					if part == "page" {
						us, _ := benchList(b, s, f)
						n = len(us)
					} else {
						n = len(benchIDs(b, s, f))
					}
					times = append(times, time.Since(start))
					if n == 0 {
						b.Fatalf("no users at offset %d of %d", f.Offset, total)
					}
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[(len(times)*99+99)/100-1].Nanoseconds()), "p99-ns/op")
			})
		}
	}
}
