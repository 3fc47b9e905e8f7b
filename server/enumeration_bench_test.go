package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/password"
)

// BenchmarkFailedSignIn compares a wrong password for a user with a sign-in
// to an unknown email, one at a time, with the real argon2id parameters and
// the lockout out of reach: the two should take the same time (README,
// "No enumeration"). TestSignInWorkIsTheSameForEveryEmail checks the work
// exactly; this shows the time.
func BenchmarkFailedSignIn(b *testing.B) {
	for _, email := range []string{"root@bench.test", "nobody@bench.test"} {
		b.Run("email="+email, func(b *testing.B) {
			inst := testserver.Start(b, testserver.Options{Config: core.Config{PasswordParams: password.DefaultParams, LockoutThreshold: 1 << 30}})
			c := newBenchClient(inst)
			c.seedRoot(b, "root@bench.test")
			body := map[string]any{"email": email, "password": map[string]any{"value": "Wr0ng-Passw0rd"}}
			for b.Loop() {
				if err := c.do(context.Background(), "POST", "/multi/login_with_password", "", body, http.StatusForbidden, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLostPasswordStart compares starting a reset for a user with one
// for an unknown email, outside sandbox, each answer timed alone, as whoever
// probes addresses one by one sees it: the same time, the lookup, the code
// and the email following the answer (untimed, before the next request).
func BenchmarkLostPasswordStart(b *testing.B) {
	for _, email := range []string{"root@bench.test", "nobody@bench.test"} {
		b.Run("email="+email, func(b *testing.B) {
			inst := testserver.Start(b, testserver.Options{NotSandbox: true})
			c := newBenchClient(inst)
			c.seedRoot(b, "root@bench.test")
			for b.Loop() {
				if err := c.do(context.Background(), "POST", "/multi/passwords/lost_password/start", "", map[string]any{"email": email}, http.StatusNoContent, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				inst.Service.WaitForMail()
				b.StartTimer()
			}
		})
	}
}
