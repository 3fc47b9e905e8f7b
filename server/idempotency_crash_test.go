package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// crashingStore stands for a process that dies right after committing an
// operation's change: once armed, the first Update that commits an audit event
// (every change appends one) panics after its commit, so nothing the request
// would do next happens and its answer is lost (the server answers 500).
type crashingStore struct {
	core.Store
	armed   atomic.Bool
	crashed atomic.Int32
}

func (c *crashingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	var audited bool
	err := c.Store.Update(ctx, func(tx core.Tx) error {
		audited = false
		return fn(auditSpy{tx, &audited})
	})
	if err == nil && audited && c.armed.CompareAndSwap(true, false) {
		c.crashed.Add(1)
		panic("simulated crash after commit")
	}
	return err
}

// auditSpy notes that a transaction appended an audit event.
type auditSpy struct {
	core.Tx
	audited *bool
}

func (s auditSpy) AppendAudit(e *core.AuditEvent) error {
	*s.audited = true
	return s.Tx.AppendAudit(e)
}

// idempotentCall is one endpoint marked idempotent in the routes, ready to
// call with a ref, and the audit action its change appends.
type idempotentCall struct {
	name   string
	action string
	// prepare sets up what the call needs and returns it.
	prepare func(e *env) func(ref string) resp
}

// idempotentCalls covers every idempotent route of the env harness; the
// companion's push routes are covered in push tests.
var idempotentCalls = []idempotentCall{
	{"corporate create", "identity.create", func(e *env) func(string) resp {
		return func(ref string) resp { return e.createCorporate(ref, corporateBody("crash@acme.test")) }
	}},
	{"consumer create", "identity.create", func(e *env) func(string) resp {
		return func(ref string) resp {
			return e.key("POST", "/multi/consumers", consumerBody("crash@acme.test"), "idempotency-ref", ref)
		}
	}},
	{"SMS enrol", "challenge.issue", func(e *env) func(string) resp {
		_, token := e.corporate("root@acme.test")
		return func(ref string) resp { return e.auth(token, "POST", enrolPath, nil, "idempotency-ref", ref) }
	}},
	{"SMS enrol verify", "challenge.verify", func(e *env) func(string) resp {
		_, token := e.corporate("root@acme.test")
		wantNoContent(e.t, e.auth(token, "POST", enrolPath, nil))
		return func(ref string) resp {
			return e.auth(token, "POST", enrolVerifyPath, codeBody(sandboxCode), "idempotency-ref", ref)
		}
	}},
	{"step-up", "challenge.issue", func(e *env) func(string) resp {
		e.enrolledRoot("root@acme.test")
		token := e.loginToken("root@acme.test")
		return func(ref string) resp { return e.auth(token, "POST", stepUpPath, nil, "idempotency-ref", ref) }
	}},
	{"step-up verify", "challenge.verify", func(e *env) func(string) resp {
		e.enrolledRoot("root@acme.test")
		token := e.loginToken("root@acme.test")
		wantNoContent(e.t, e.auth(token, "POST", stepUpPath, nil))
		return func(ref string) resp {
			return e.auth(token, "POST", stepUpVerifyPath, codeBody(sandboxCode), "idempotency-ref", ref)
		}
	}},
	{"user create", "user.create", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		return func(ref string) resp {
			return e.auth(root.token, "POST", usersPath, userBody("bea@acme.test"), "idempotency-ref", ref)
		}
	}},
	{"user update", "user.update", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		id := e.createUser(root.token, userBody("bea@acme.test"))
		return func(ref string) resp {
			return e.auth(root.token, "PATCH", userPath(id), map[string]any{"name": "Beatrice"}, "idempotency-ref", ref)
		}
	}},
	{"invite send", "user.invite", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		id := e.createUser(root.token, userBody("bea@acme.test"))
		return func(ref string) resp {
			return e.auth(root.token, "POST", userPath(id, "invite"), nil, "idempotency-ref", ref)
		}
	}},
	{"invite consume", "user.invite_consume", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		id := e.createUser(root.token, userBody("bea@acme.test"))
		e.invite(root.token, id)
		return func(ref string) resp {
			return e.key("POST", userPath(id, "invite/consume"), map[string]any{"inviteCode": sandboxCode, "password": pw(testPassword)}, "idempotency-ref", ref)
		}
	}},
	{"device reset", "user.device_reset", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		bea := e.newMember(root.token, "bea@acme.test")
		return func(ref string) resp {
			return e.auth(root.token, "POST", userPath(bea.id, "device/reset"), nil, "idempotency-ref", ref)
		}
	}},
	{"email verification send", "user.email_verification_sent", func(e *env) func(string) resp {
		root := e.adminRoot("root@acme.test")
		e.createUser(root.token, userBody("bea@acme.test"))
		return func(ref string) resp {
			return e.key("POST", "/multi/users/verification/email/send", map[string]any{"email": "bea@acme.test"}, "idempotency-ref", ref)
		}
	}},
}

// TestIdempotencySurvivesACrashAfterTheCommit: for every idempotent route,
// the process dies right after the operation's change commits, before it
// answers. The record was finished in that same transaction, so the retry
// with the same ref replays the answer (never IDEMPOTENCY_REF_IN_FLIGHT, nor
// a conflict with the change itself) and the change happened once.
func TestIdempotencySurvivesACrashAfterTheCommit(t *testing.T) {
	for _, c := range idempotentCalls {
		t.Run(c.name, func(t *testing.T) {
			crash := &crashingStore{}
			e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { crash.Store = s; return crash })
			call := c.prepare(e)
			before := count(e.auditActions(), c.action)

			crash.armed.Store(true)
			lost := call("crash-ref")
			require.Equal(t, int32(1), crash.crashed.Load(), "the store crashed after the commit")
			require.Equal(t, http.StatusInternalServerError, lost.status, "the answer was lost: %s", lost.body)

			retry := call("crash-ref")
			require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, retry.status, "the retry gets the original answer: %s", retry.body)
			again := call("crash-ref")
			assert.Equal(t, retry.status, again.status)
			assert.Equal(t, string(retry.body), string(again.body), "and so does every later one")
			assert.Equal(t, before+1, count(e.auditActions(), c.action), "the change happened once")
		})
	}
}

// TestIdempotencyLateFirstRunChangesNothing: a first run so slow that a retry
// took its claim over (after a minute) and finished finds the record finished
// when it reaches its own transaction: that transaction fails with
// IDEMPOTENCY_REF_IN_FLIGHT and changes nothing, so the change happens once.
func TestIdempotencyLateFirstRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	body, err := json.Marshal(corporateBody("root@acme.test"))
	require.NoError(t, err)
	h := sha256.New()
	h.Write([]byte("POST /multi/corporates\n"))
	h.Write(body)
	key := e.prog.ID + "|api|slow-ref"
	replay, err := e.svc.BeginIdempotent(context.Background(), key, h.Sum(nil))
	require.NoError(t, err)
	require.Nil(t, replay, "the slow first run holds the claim")

	e.advance(time.Minute)
	r := e.createCorporate("slow-ref", body)
	require.Equal(t, http.StatusOK, r.status, "the retry took the claim over: %s", r.body)

	late := core.WithIdempotentCall(context.Background(), &core.IdempotentCall{Key: key,
		Answer: func(any) (int, []byte, error) { return http.StatusOK, []byte(`{}`), nil }})
	m := core.Mobile{CountryCode: "+44", Number: "7700900123"}
	_, _, err = e.svc.CreateIdentity(late, e.prog, core.NewIdentity{Type: core.Corporate, Name: "Late Ltd",
		Root: core.UserDetails{Name: "Ada", Surname: "Lovelace", Email: "late@acme.test", Mobile: &m}})
	require.ErrorIs(t, err, core.ErrIdempotencyInFlight)
	assert.Equal(t, 1, count(e.auditActions(), "identity.create"), "one corporate")
	again := e.createCorporate("slow-ref", body)
	assert.JSONEq(t, string(r.body), string(again.body), "the record keeps the retry's answer")
}

// unknownOutcomeStore stands for a connection to the database that breaks
// just after the server committed: once armed, the first Update that
// commits an audit event returns core.ErrUnreachable anyway, as a store does
// when it cannot tell whether its COMMIT went through (the client's context
// cancelled amid the commit is the same).
type unknownOutcomeStore struct {
	core.Store
	armed atomic.Bool
	cause error
}

func (c *unknownOutcomeStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	var audited bool
	err := c.Store.Update(ctx, func(tx core.Tx) error {
		audited = false
		return fn(auditSpy{tx, &audited})
	})
	if err == nil && audited && c.armed.CompareAndSwap(true, false) {
		return c.cause
	}
	return err
}

// TestIdempotencyCommitOutcomeUnknown: for every idempotent route, the
// operation's transaction commits but the store cannot tell (the connection
// broke during the COMMIT, or the client went away amid it). The record was
// finished in that transaction, so it must be kept: the retry with the same
// ref replays the answer and the change happened once, instead of running
// again.
func TestIdempotencyCommitOutcomeUnknown(t *testing.T) {
	for _, cause := range []error{fmt.Errorf("%w: connection reset", core.ErrUnreachable), context.Canceled} {
		for _, c := range idempotentCalls {
			t.Run(fmt.Sprintf("%s/%v", c.name, cause), func(t *testing.T) {
				unknown := &unknownOutcomeStore{cause: cause}
				e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { unknown.Store = s; return unknown })
				call := c.prepare(e)
				before := count(e.auditActions(), c.action)

				unknown.armed.Store(true)
				lost := call("unknown-ref")
				require.False(t, unknown.armed.Load(), "the store hid the commit")
				require.GreaterOrEqual(t, lost.status, 500, "%s", lost.body)

				retry := call("unknown-ref")
				require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, retry.status, "the retry gets the original answer: %s", retry.body)
				assert.Equal(t, before+1, count(e.auditActions(), c.action), "the change happened once")
			})
		}
	}
}
