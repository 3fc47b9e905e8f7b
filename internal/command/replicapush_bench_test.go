package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
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
	db := pgtest.URL(b)
	stdout, err := run(b, 30*time.Second, "programme", "create", "--db", db, "--name", "Acme Cards", "--biometrics", "--json")
	require.NoError(b, err)
	p := map[string]string{}
	require.NoError(b, json.Unmarshal([]byte(stdout), &p))
	args := []string{"--sandbox", "--db", db, "--audit-key", filepath.Join(b.TempDir(), "audit-key")}
	a, other := startServe(b, args...), startServe(b, args...)
	ctx := context.Background()
	session := func(s *serving, email string) *client.Session {
		c, err := client.New("http://"+s.addr, p["uiKey"])
		require.NoError(b, err)
		l, err := c.LoginWithPassword(ctx, email, "Sup3r-Secret")
		require.NoError(b, err)
		return c.Session(l.Token)
	}
	// Each user's phone enrols and holds its stream on replica A, and an
	// admin screen of theirs on replica B asks for step-ups, one at a
	// time: as many users as the phones' budget of prompts needs.
	type user struct {
		admin  *client.Session
		events chan string
	}
	perUser := core.DefaultRateLimits().PushPromptsPerUser.Requests
	users := make([]user, (b.N+perUser-1)/perUser)
	for i := range users {
		email := fmt.Sprintf("ada%d@acme.test", i)
		signUpWithMobile(b, a, p["apiKey"], email, strconv.Itoa(7700900200+i))
		phone := session(a, email)
		options, err := phone.BeginBiometricEnrolment(ctx, "phone-1", "Ada's phone")
		require.NoError(b, err)
		req, err := authenticator.ParseCreationOptions(options, "https://localhost")
		require.NoError(b, err)
		yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
		auth, err := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
		require.NoError(b, err)
		att, err := auth.Register(ctx, req)
		require.NoError(b, err)
		secret, err := phone.FinishBiometricEnrolment(ctx, "123456", att)
		require.NoError(b, err)
		phone = session(a, email).WithDeviceSecret(secret) // a session signed in since speaks for the phone with its secret
		stream, err := phone.PushEvents(ctx, "phone-1")
		require.NoError(b, err)
		b.Cleanup(func() { stream.Close() })
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
		users[i] = user{admin: session(other, email), events: events}
	}

	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		u := users[i/perUser]
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
