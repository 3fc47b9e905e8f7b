package core_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// chanBus is a core.PushBus between the tests and a service.
type chanBus struct {
	published, deliver chan string
}

func (b *chanBus) Publish(_ context.Context, userID string) error {
	b.published <- userID
	return nil
}

func (b *chanBus) Listen(ctx context.Context, ready func(), wake func(string)) error {
	ready()
	for {
		select {
		case id := <-b.deliver:
			wake(id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestPushBus: a push challenge is published on the bus for the other
// replicas, and a wake-up from the bus wakes this process's streams of
// that user.
func TestPushBus(t *testing.T) {
	e := newCoreEnv(t)
	prog, c := e.phoneUser("ada@acme.test")
	bus := &chanBus{published: make(chan string, 8), deliver: make(chan string)}
	svc, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		e.store, core.Integrations{SMS: e.sms, Email: e.mail, Bus: bus}, e.clock)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go svc.RunPushBus(ctx)

	sub, err := svc.SubscribePush(c.User.ID, "")
	require.NoError(t, err)
	defer sub.Close()
	_, err = svc.StepUpPush(e.ctx, e.caller(prog, e.login(prog, "ada@acme.test")), "Create user bea@acme.test", "")
	require.NoError(t, err)
	require.Equal(t, c.User.ID, <-bus.published, "the other replicas are told")
	<-sub.C // this process's own wake-up
	select {
	case <-sub.C: // and any earlier one (the bus's ready)
	default:
	}

	select {
	case bus.deliver <- c.User.ID: // another replica's change
	case <-time.After(10 * time.Second):
		t.Fatal("the service does not listen to the bus")
	}
	select {
	case <-sub.C:
	case <-time.After(10 * time.Second):
		t.Fatal("a wake-up from the bus did not reach the user's stream")
	}
}

// TestPushBusWakesInTheBackground: the other replicas are told after the
// answer, not before: a biometric sign-in to a user with a phone answers
// while the bus (a round trip to PostgreSQL in production) has not taken
// the wake-up, so that it takes no longer than an unknown email's decoy.
func TestPushBusWakesInTheBackground(t *testing.T) {
	e := newCoreEnv(t)
	prog, c := e.phoneUser("ada@acme.test")
	bus := &chanBus{published: make(chan string), deliver: make(chan string)} // Publish waits for the test
	svc, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams, Logger: slog.New(slog.DiscardHandler)},
		e.store, core.Integrations{SMS: e.sms, Email: e.mail, Bus: bus}, e.clock)
	require.NoError(t, err)

	answered := make(chan error, 1)
	go func() {
		_, err := svc.LoginViaBiometrics(e.ctx, prog, "ada@acme.test", core.IdentityRef{})
		answered <- err
	}()
	select {
	case err := <-answered:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the sign-in waited for the bus")
	}
	select {
	case id := <-bus.published:
		require.Equal(t, c.User.ID, id, "the wake-up still goes out")
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up on the bus")
	}
	svc.WaitForMail()
}
