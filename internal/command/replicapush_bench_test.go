package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/pgstore"
	"github.com/deputyhq/deputy/internal/pgtest"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// BenchmarkPushAcrossReplicas measures how long a push step-up asked for
// through one replica takes to reach the phone's event stream held by the
// other, both `deputy serve` on one PostgreSQL (issue 14 target: p99 under
// 100 ms; without a wake-up between replicas it is up to the 3 s poll). A
// user's phone takes PushPromptsPerUser prompts an hour, so the step-ups
// go to as many users' phones as that takes.
func BenchmarkPushAcrossReplicas(b *testing.B) {
	r := startPushReplicas(b)
	perUser := core.DefaultRateLimits().PushPromptsPerUser.Requests
	phones := make([]phoneElsewhere, (b.N+perUser-1)/perUser)
	for i := range phones {
		phones[i] = r.phoneElsewhere(b, fmt.Sprintf("ada%d@acme.test", i), strconv.Itoa(7700900200+i))
	}
	ctx := context.Background()
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		u := phones[i/perUser]
		start := time.Now()
		up, err := u.admin.StepUpPush(ctx, "Create user bea@acme.test with roles CARD_ASSIGNEE")
		require.NoError(b, err)
		for id := range u.events {
			if id == up.ID {
				break
			}
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// TestPushStepUpSeesPhoneOnOtherReplica: a push step-up asked for through
// one replica says the phone is reachable while its stream is held by the
// other (the replicas share device presence), and the challenge reaches it.
func TestPushStepUpSeesPhoneOnOtherReplica(t *testing.T) {
	r := startPushReplicas(t)
	u := r.phoneElsewhere(t, "ada@acme.test", "7700900200")
	up, err := u.admin.StepUpPush(t.Context(), "Create user bea@acme.test with roles CARD_ASSIGNEE")
	require.NoError(t, err)
	assert.True(t, up.Device.Reachable, "the phone holds its stream on the other replica")
	assert.False(t, up.Device.LastSeen.IsZero())
	select {
	case id := <-u.events:
		assert.Equal(t, up.ID, id)
	case <-time.After(10 * time.Second):
		t.Fatal("the challenge never reached the phone")
	}
}

// TestPushStepUpIdempotentSeesPhoneOnOtherReplica: with an idempotency-ref
// the answer is made inside the step-up's transaction; asking another
// replica's presence there must not wait for a second pooled connection
// (here the only one is the transaction's) nor, past the wait, answer
// unreachable for a phone connected to the other replica.
func TestPushStepUpIdempotentSeesPhoneOnOtherReplica(t *testing.T) {
	r := startPushReplicas(t, "pool_max_conns=1")
	u := r.phoneElsewhere(t, "ada@acme.test", "7700900200")
	up, err := u.admin.StepUpPush(t.Context(), "Create user bea@acme.test with roles CARD_ASSIGNEE", client.IdempotencyRef(client.NewIdempotencyRef()))
	require.NoError(t, err)
	// Waiting for a second connection would end in the presence read's
	// timeout and an unreachable phone: no clock is needed to see it.
	assert.True(t, up.Device.Reachable, "the phone holds its stream on the other replica")
}

// pushReplicas are two `deputy serve` on one PostgreSQL with biometrics on.
type pushReplicas struct {
	holder, other *serving // the phones' streams go to holder, step-ups to other
	apiKey, uiKey string
	presence      *pgstore.Store // the database, to see the phones' presence recorded
}

// otherQuery, if any, is added to the database URL of r.other (its pool).
func startPushReplicas(t testing.TB, otherQuery ...string) pushReplicas {
	t.Helper()
	db := pgtest.URL(t)
	stdout, err := run(t, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme Cards", "--biometrics", "--json")
	require.NoError(t, err)
	p := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &p))
	key := filepath.Join(t.TempDir(), "audit-key")
	args := func(db string) []string { return []string{"--sandbox", "--db", db, "--audit-key", key} }
	otherDB := db
	for _, q := range otherQuery {
		if strings.Contains(otherDB, "?") {
			otherDB += "&" + q
		} else {
			otherDB += "?" + q
		}
	}
	presence, err := pgstore.Open(t.Context(), db, pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { presence.Close() })
	return pushReplicas{holder: startServe(t, args(db)...), other: startServe(t, args(otherDB)...), apiKey: p["apiKey"], uiKey: p["uiKey"],
		presence: presence}
}

// phoneElsewhere is a user whose phone holds its event stream on one
// replica and whose admin screen (a session of theirs) is on the other.
type phoneElsewhere struct {
	admin  *client.Session
	events chan string // the ids of the challenges the phone's stream brings
}

// phoneElsewhere signs a user up with a UK mobile, enrols their phone and
// opens its stream on r.holder, and signs them in on r.other.
func (r pushReplicas) phoneElsewhere(t testing.TB, email, mobile string) phoneElsewhere {
	t.Helper()
	ctx := context.Background()
	session := func(s *serving) *client.Session {
		c, err := client.New("http://"+s.addr, r.uiKey)
		require.NoError(t, err)
		l, err := c.LoginWithPassword(ctx, email, "Sup3r-Secret")
		require.NoError(t, err)
		return c.Session(l.Token)
	}
	id, _ := signUpWithMobile(t, r.holder, r.apiKey, email, mobile)
	phone := session(r.holder)
	options, err := phone.BeginBiometricEnrolment(ctx, "phone-1", "Ada's phone")
	require.NoError(t, err)
	req, err := authenticator.ParseCreationOptions(options, "https://localhost")
	require.NoError(t, err)
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	auth, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	require.NoError(t, err)
	att, err := auth.Register(ctx, req)
	require.NoError(t, err)
	secret, err := phone.FinishBiometricEnrolment(ctx, "123456", att)
	require.NoError(t, err)
	phone = session(r.holder).WithDeviceSecret(secret) // a session signed in since speaks for the phone with its secret
	stream, err := phone.PushEvents(ctx, "phone-1")
	require.NoError(t, err)
	t.Cleanup(func() { stream.Close() })
	events := make(chan string, 16)
	go func() {
		for {
			ev, err := stream.Next()
			if err != nil {
				close(events)
				return
			}
			if ev.Type == client.EventChallenge && ev.Challenge != nil {
				events <- ev.Challenge.ID
			}
		}
	}()
	// The holder records the phone's presence in the background: the other
	// replica's first answer must not race that write.
	require.Eventually(t, func() bool {
		seen, err := r.presence.DeviceLastSeen(ctx, id)
		return err == nil && !seen.IsZero()
	}, 10*time.Second, 10*time.Millisecond, "the holder records the phone's presence")
	return phoneElsewhere{admin: session(r.other), events: events}
}
