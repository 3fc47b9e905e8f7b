package core_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// TestAbandonIdempotentAfterATimedOutSend: an operation's change and its
// answer commit, then its text message times out at the gateway (an error
// wrapping context.DeadlineExceeded, as a sender's own timeout does). The
// commit is known, so the request failed after it: the ref is forgotten and
// a retry with it runs again and sends the code, instead of replaying a
// success whose code never left.
func TestAbandonIdempotentAfterATimedOutSend(t *testing.T) {
	for _, cause := range []error{context.DeadlineExceeded, context.Canceled, fmt.Errorf("outbox: %w", core.ErrUnreachable)} {
		t.Run(cause.Error(), func(t *testing.T) {
			e := newCoreEnv(t)
			_, token := e.root(e.prog, "root@acme.test")
			c := e.caller(e.prog, token)
			key, hash := e.prog.ID+"|api|sms-ref", []byte("payload")

			replay, err := e.svc.BeginIdempotent(e.ctx, key, hash)
			require.NoError(t, err)
			require.Nil(t, replay)
			call := &core.IdempotentCall{Key: key, Answer: func(any) (int, []byte, error) { return http.StatusNoContent, nil, nil }}
			e.sms.failWith(fmt.Errorf("sms gateway: request failed: %w", cause))
			sendErr := e.svc.EnrolSMS(core.WithIdempotentCall(e.ctx, call), c)
			require.ErrorIs(t, sendErr, cause, "the text message failed after the commit")
			require.NoError(t, e.svc.AbandonIdempotent(e.ctx, call))

			replay, err = e.svc.BeginIdempotent(e.ctx, key, hash)
			require.NoError(t, err)
			require.Nil(t, replay, "the failed request is not remembered: the retry runs again")
		})
	}
}
