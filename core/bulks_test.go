package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// newUsers returns n users to create, with emails prefix0@example.com ...
func newUsers(prefix string, n int) []core.NewUser {
	out := make([]core.NewUser, n)
	for i := range out {
		out[i] = core.NewUser{UserDetails: core.UserDetails{Name: "Bulk", Surname: fmt.Sprintf("User %d", i),
			Email: fmt.Sprintf("%s%d@example.com", prefix, i)}}
	}
	return out
}

// bulkRecord reads a bulk from the store.
func (e *coreEnv) bulkRecord(id string) *core.Bulk {
	e.t.Helper()
	return readBulk(e.t, e.store, id)
}

func readBulk(t testing.TB, s core.Store, id string) *core.Bulk {
	t.Helper()
	var b *core.Bulk
	require.NoError(t, s.View(context.Background(), func(tx core.ReadTx) error {
		var err error
		b, err = tx.Bulk(id)
		return err
	}))
	return b
}

// requireOnce checks that every operation of a finished bulk of user
// creations completed exactly once: one user per operation, each with its
// own row's email, and one user.create audit event per user.
func requireOnce(t testing.TB, s core.Store, prog *core.Programme, bulkID string, n int) {
	t.Helper()
	ctx := context.Background()
	var creates int
	require.NoError(t, s.View(ctx, func(tx core.ReadTx) error {
		b, err := tx.Bulk(bulkID)
		if err != nil {
			return err
		}
		assert.Equal(t, core.BulkCompleted, b.State)
		assert.Equal(t, n, b.Completed)
		ops, err := tx.BulkOperations(bulkID, 1, 0)
		if err != nil {
			return err
		}
		require.Len(t, ops, n)
		seen := map[string]bool{}
		for _, op := range ops {
			assert.Equal(t, core.BulkOpCompleted, op.Status, "operation %d", op.Seq)
			require.NotNil(t, op.Created, "operation %d", op.Seq)
			u, err := tx.User(op.Created.ID)
			if err != nil {
				return fmt.Errorf("operation %d: %w", op.Seq, err)
			}
			assert.Equal(t, op.User.Email, u.Email, "operation %d", op.Seq)
			assert.False(t, seen[u.ID], "user %s twice", u.ID)
			seen[u.ID] = true
		}
		for after := uint64(0); ; {
			es, err := tx.AuditEvents(prog.ID, after, 1000)
			if err != nil || len(es) == 0 {
				return err
			}
			for _, e := range es {
				if e.Action == "user.create" {
					creates++
				}
			}
			after = es[len(es)-1].Seq
		}
	}))
	assert.Equal(t, n, creates, "user.create events")
}

func TestBulkCreatesEveryUserOnce(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("u", 20))
	require.NoError(t, err)
	assert.Equal(t, core.BulkSubmitted, b.State)
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpSubmitted, Count: 20}}, b.StatusCounts())

	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))
	err = e.svc.ExecuteBulk(e.ctx, c, b.ID, "")
	assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(err), "a second execute")
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	requireOnce(t, e.store, e.prog, b.ID, 20)
	got, err := e.svc.GetBulk(e.ctx, c, b.ID)
	require.NoError(t, err)
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 20}}, got.StatusCounts())
	assert.False(t, got.FinishedAt.IsZero())
}

// Running bulks take turns, a chunk each: a bulk of one operation executed
// after a long one of another identity is done after the long one's first
// chunk or two, not after all of it.
func TestBulksTakeTurns(t *testing.T) {
	e := newCoreEnv(t)
	long, short := e.steppedUpRoot(e.prog, "long@example.com"), e.steppedUpRoot(e.prog, "short@example.com")
	const n = 300
	lb, err := e.svc.SubmitUserCreateBulk(e.ctx, long, newUsers("long", n))
	require.NoError(t, err)
	sb, err := e.svc.SubmitUserCreateBulk(e.ctx, short, newUsers("short", 1))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, long, lb.ID, ""))
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, short, sb.ID, ""))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: n}}, e.bulkRecord(lb.ID).StatusCounts())
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 1}}, e.bulkRecord(sb.ID).StatusCounts())

	longBefore := 0 // the long bulk's creations committed before the short one's
	for _, c := range e.userCreations(t) {
		if c.Actor == short.User.ID {
			break
		}
		if c.Actor == long.User.ID {
			longBefore++
		}
	}
	assert.LessOrEqual(t, longBefore, 2*64, "the short bulk waited for at most two of the long one's chunks")
}

// The bulks of one identity take one turn between them, each in its turn:
// an identity that runs many bulks at once (up to the 100 it keeps) holds
// up another's bulk, executed after them, for one chunk, not one chunk of
// each of its own, and none of its bulks waits for another to end; the
// runner took the first 100 running bulks, a chunk each, so an identity with
// 100 running bulks of invites held every other identity's and programme's
// bulk back until one of its own ended, long enough for their sessions to
// idle out and pause them SESSION_ENDED.
func TestBulksTakeTurnsPerIdentity(t *testing.T) {
	e := newCoreEnv(t)
	many, short := e.steppedUpRoot(e.prog, "many@example.com"), e.steppedUpRoot(e.prog, "short@example.com")
	const bulks, n = 4, 65 // two chunks each
	var ids []string
	for i := range bulks {
		b, err := e.svc.SubmitUserCreateBulk(e.ctx, many, newUsers(fmt.Sprintf("many%d-", i), n))
		require.NoError(t, err)
		require.NoError(t, e.svc.ExecuteBulk(e.ctx, many, b.ID, ""))
		ids = append(ids, b.ID)
	}
	sb, err := e.svc.SubmitUserCreateBulk(e.ctx, short, newUsers("short", 1))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, short, sb.ID, ""))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	for _, id := range ids {
		assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: n}}, e.bulkRecord(id).StatusCounts())
	}
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 1}}, e.bulkRecord(sb.ID).StatusCounts())

	manyBefore := -1      // the many bulks' creations committed before the short one's
	var prefixes []string // of the emails the many bulks created, in order
	for _, c := range e.userCreations(t) {
		switch c.Actor {
		case short.User.ID:
			manyBefore = len(prefixes)
		case many.User.ID:
			prefixes = append(prefixes, c.Email[:len("many0-")])
		}
	}
	assert.Equal(t, 64, manyBefore, "the short bulk waited for one chunk of the identity's bulks")
	require.Len(t, prefixes, bulks*n)
	for i := range bulks {
		assert.Equal(t, fmt.Sprintf("many%d-", i), prefixes[i*64], "the identity's bulks take turns: chunk %d", i)
	}
}

// userCreation is a user.create event of the audit log: who created whom.
type userCreation struct{ Actor, Email string }

// userCreations lists the programme's user creations in the order they
// committed.
func (e *coreEnv) userCreations(t *testing.T) []userCreation {
	t.Helper()
	var out []userCreation
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		for after := uint64(0); ; {
			es, err := tx.AuditEvents(e.prog.ID, after, 1000)
			if err != nil || len(es) == 0 {
				return err
			}
			for _, ev := range es {
				if ev.Action != "user.create" {
					continue
				}
				u, err := tx.User(ev.Subject)
				if err != nil {
					return err
				}
				out = append(out, userCreation{ev.Actor, u.Email})
			}
			after = es[len(es)-1].Seq
		}
	}))
	return out
}

// An identity keeps 100 bulks: one more removes the oldest that finished,
// with its operations; when none has finished, the submission is refused.
func TestBulksKeptPerIdentity(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	submit := func() (*core.Bulk, error) { return e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("k", 1)) }
	var ids []string
	for range 100 {
		b, err := submit()
		require.NoError(t, err)
		ids = append(ids, b.ID)
	}
	require.NoError(t, e.svc.CancelBulk(e.ctx, c, ids[1]))
	require.NoError(t, e.svc.CancelBulk(e.ctx, c, ids[7]))
	_, err := submit()
	require.NoError(t, err)
	_, err = e.svc.GetBulk(e.ctx, c, ids[1])
	assert.ErrorIs(t, err, core.ErrNotFound, "the oldest finished bulk is gone")
	_, _, err = e.svc.BulkOperations(e.ctx, c, ids[1], core.BulkOpFilter{})
	assert.ErrorIs(t, err, core.ErrNotFound)
	_, err = e.svc.GetBulk(e.ctx, c, ids[0])
	assert.NoError(t, err, "an older bulk that has not finished stays")
	_, n, err := e.svc.ListBulks(e.ctx, c, "", 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 100, n)

	_, err = submit()
	require.NoError(t, err, "bulk %s makes room", ids[7])
	_, err = submit()
	assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(err), "100 bulks that have not finished")
	_, n, err = e.svc.ListBulks(e.ctx, c, "", 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 100, n)
	other := e.steppedUpRoot(e.prog, "other@example.com")
	_, err = e.svc.SubmitUserCreateBulk(e.ctx, other, newUsers("o", 1))
	assert.NoError(t, err, "another identity keeps its own")
}

// Parallel submissions on an identity holding 100 bulks, five of them
// finished: exactly five are accepted, each removing a finished one, and the
// identity still holds 100; the rest are refused with nothing removed.
func TestBulksKeptUnderParallelSubmissions(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	var ids []string
	for range 100 {
		b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("k", 1))
		require.NoError(t, err)
		ids = append(ids, b.ID)
	}
	for _, i := range []int{3, 20, 41, 77, 99} {
		require.NoError(t, e.svc.CancelBulk(e.ctx, c, ids[i]))
	}
	var accepted, refused atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("p", 1))
			switch {
			case err == nil:
				accepted.Add(1)
			case core.CodeOf(err) == core.CodeBulkInvalidState:
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(5), accepted.Load())
	assert.Equal(t, int32(11), refused.Load())
	_, n, err := e.svc.ListBulks(e.ctx, c, "", 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 100, n)
}

// An identity that kept more bulks than 100 before they were kept, far
// more than one page, every one finished, can still submit: each
// submission removes up to ten of the oldest finished ones, and the
// identity shrinks to 100 over the submissions that follow. When none of
// its oldest 1,000 has finished, it is refused.
func TestBulksKeptWhenManyMoreWereStored(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	store := func(n int, state core.BulkState) []string {
		var ids []string
		require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
			for range n {
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				u := newUsers("legacy", 1)[0]
				b := &core.Bulk{ID: id, ProgrammeID: e.prog.ID, IdentityID: c.User.IdentityID, SubmittedBy: c.User.ID,
					Kind: core.BulkUserCreate, Count: 1, State: state, Mode: core.BulkContinue, CreatedAt: e.clock.Now()}
				if b.Final() {
					b.Failed, b.FinishedAt = 1, e.clock.Now()
				}
				op := &core.BulkOperation{BulkID: id, Seq: 1, Status: core.BulkOpSubmitted, User: &u}
				if err := tx.InsertBulk(b, []*core.BulkOperation{op}); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		}))
		return ids
	}
	count := func() int {
		_, n, err := e.svc.ListBulks(e.ctx, c, "", 0, 1)
		require.NoError(t, err)
		return n
	}
	old := store(205, core.BulkFailed)
	_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("k", 1))
	require.NoError(t, err, "every kept bulk has finished: the oldest make room")
	assert.Equal(t, 196, count(), "ten removed, one added")
	_, err = e.svc.GetBulk(e.ctx, c, old[9])
	assert.ErrorIs(t, err, core.ErrNotFound)
	_, err = e.svc.GetBulk(e.ctx, c, old[10])
	assert.NoError(t, err, "only ten go at a time")
	for range 11 {
		_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("k", 1))
		require.NoError(t, err)
	}
	assert.Equal(t, 100, count(), "down to 100, and no further")

	// Another identity with 1,100 bulks, only its newest 100 finished.
	other := e.steppedUpRoot(e.prog, "other@example.com")
	c = other
	store(1000, core.BulkSubmitted)
	store(100, core.BulkCancelled)
	_, err = e.svc.SubmitUserCreateBulk(e.ctx, other, newUsers("o", 1))
	assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(err), "none of the oldest 1,000 has finished")
	assert.Equal(t, 1100, count(), "the refusal removed nothing")
}

// A running bulk cancelled and then removed while the runner is busy with
// an earlier bulk's emails (its round had already listed it) has nothing
// left to run: the round goes on to the bulks after it, another
// identity's here, instead of failing with the store's "not found".
func TestRemovedBulkDoesNotStopTheRound(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	other := e.steppedUpRoot(e.prog, "other@example.com")
	u, err := e.svc.CreateUser(e.ctx, c, newUsers("inv", 1)[0])
	require.NoError(t, err)
	a, err := e.svc.SubmitUserInviteBulk(e.ctx, c, []string{u.ID})
	require.NoError(t, err)
	x, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("x", 1))
	require.NoError(t, err)
	v, err := e.svc.SubmitUserCreateBulk(e.ctx, other, newUsers("v", 1))
	require.NoError(t, err)
	for range 98 { // the identity keeps 100 bulks: a, x and these
		_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("f", 1))
		require.NoError(t, err)
	}
	for _, b := range []*core.Bulk{a, x} {
		require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))
	}
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, other, v.ID, ""))

	mail, done := e.processBulksGated(t)
	require.Eventually(t, func() bool { return mail.inFlight.Load() == 1 }, 10*time.Second, time.Millisecond, "a's invite on its way")
	// a has completed (its emails go after the commit) and x is cancelled:
	// two submissions remove a, then x.
	require.NoError(t, e.svc.CancelBulk(e.ctx, c, x.ID))
	for range 2 {
		_, err = e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("n", 1))
		require.NoError(t, err)
	}
	_, err = e.svc.GetBulk(e.ctx, c, x.ID)
	require.ErrorIs(t, err, core.ErrNotFound, "x is gone")
	close(mail.open)
	assert.NoError(t, <-done, "a bulk removed has nothing left to run")
	assert.Equal(t, core.BulkCompleted, e.bulkRecord(v.ID).State, "the other identity's bulk had its turn")
}

// A chunk's invites are emailed bulkAfterParallel (8) at a time after its
// commit, not one after another: a slow mail server holds the runner up an
// eighth as long. The mail server here answers nobody until eight wait.
func TestBulkEmailsGoInParallel(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@example.com")
	var ids []string
	for _, u := range newUsers("p", 16) {
		created, err := e.svc.CreateUser(e.ctx, root, u)
		require.NoError(t, err)
		ids = append(ids, created.ID)
	}
	b, err := e.svc.SubmitUserInviteBulk(e.ctx, root, ids)
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, root, b.ID, ""))
	mail, done := e.processBulksGated(t)
	require.Eventually(t, func() bool { return mail.inFlight.Load() == 8 }, 10*time.Second, time.Millisecond, "eight emails at once")
	close(mail.open)
	require.NoError(t, <-done)
	assert.EqualValues(t, 8, mail.most.Load(), "never more than eight")
	assert.EqualValues(t, 16, mail.sent.Load())
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 16}}, e.bulkRecord(b.ID).StatusCounts())
}

// gatedMail holds every email until open is closed, counting those in flight.
// processBulksGated starts ProcessBulks on a service of e's store whose
// emails wait until mail.open is closed; done says how the round ended.
func (e *coreEnv) processBulksGated(t *testing.T) (*gatedMail, <-chan error) {
	mail := &gatedMail{open: make(chan struct{})}
	runner, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams}, e.store,
		core.Integrations{SMS: e.sms, Email: mail}, e.clock)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- runner.ProcessBulks(e.ctx) }()
	return mail, done
}

type gatedMail struct {
	open                 chan struct{}
	inFlight, most, sent atomic.Int64
}

func (m *gatedMail) SendEmail(ctx context.Context, _ core.Email) error {
	n := m.inFlight.Add(1)
	for cur := m.most.Load(); n > cur && !m.most.CompareAndSwap(cur, n); cur = m.most.Load() {
	}
	<-m.open
	m.inFlight.Add(-1)
	m.sent.Add(1)
	return nil
}

// Each operation is the single call: its errors are the operation's, the
// rest runs on (ON_FAILURE_CONTINUE) or stops (ON_FAILURE_STOP).
func TestBulkOperationFailures(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	users := newUsers("f", 4)
	users[1].Email = users[0].Email // EMAIL_NOT_UNIQUE when it runs
	users[2].Roles = []core.Role{"NO_SUCH_ROLE"}

	cont, err := e.svc.SubmitUserCreateBulk(e.ctx, c, users)
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, cont.ID, core.BulkContinue))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	b := e.bulkRecord(cont.ID)
	assert.Equal(t, core.BulkPartiallyCompleted, b.State)
	ops, n, err := e.svc.BulkOperations(e.ctx, c, cont.ID, core.BulkOpFilter{Status: core.BulkOpFailed})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	assert.Equal(t, 2, ops[0].Seq)
	assert.Equal(t, core.CodeEmailNotUnique, ops[0].Error.Code)
	assert.Equal(t, core.ErrConflict.Error(), ops[0].Error.Class)
	assert.Equal(t, core.CodeRoleNotFound, ops[1].Error.Code)

	users = newUsers("s", 4)
	users[1].Roles = []core.Role{"NO_SUCH_ROLE"}
	stop, err := e.svc.SubmitUserCreateBulk(e.ctx, c, users)
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, stop.ID, core.BulkStop))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	b = e.bulkRecord(stop.ID)
	assert.Equal(t, core.BulkPartiallyCompleted, b.State)
	assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 1}, {Status: core.BulkOpFailed, Count: 1},
		{Status: core.BulkOpCancelled, Count: 2}}, b.StatusCounts())
	_, n, err = e.svc.BulkOperations(e.ctx, c, stop.ID, core.BulkOpFilter{Status: core.BulkOpCancelled})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	ops, n, err = e.svc.BulkOperations(e.ctx, c, stop.ID, core.BulkOpFilter{Offset: 1, Limit: 2}) // a page, unfiltered
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	require.Len(t, ops, 2)
	assert.Equal(t, []int{2, 3}, []int{ops[0].Seq, ops[1].Seq})
	assert.Equal(t, []core.BulkOpStatus{core.BulkOpFailed, core.BulkOpCancelled}, []core.BulkOpStatus{ops[0].Status, ops[1].Status})
	ops, n, err = e.svc.BulkOperations(e.ctx, c, stop.ID, core.BulkOpFilter{Offset: 4})
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Empty(t, ops)
}

// Executing a bulk of creations needs a stepped-up session, and each
// operation checks the step-up again when it runs, as the session that
// executed the bulk: one that lost its step-up fails every operation.
func TestBulkNeedsStepUpWhenItRuns(t *testing.T) {
	e := newCoreEnv(t)
	e.steppedUpRoot(e.prog, "root@example.com")
	token := e.login(e.prog, "root@example.com")
	plain := e.caller(e.prog, token)
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, plain, newUsers("n", 3))
	require.NoError(t, err, "submitting needs no step-up")
	assert.ErrorIs(t, e.svc.ExecuteBulk(e.ctx, plain, b.ID, ""), core.ErrStepUpRequired)
	require.NoError(t, e.svc.StepUpSMS(e.ctx, plain, ""))
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, plain, core.SandboxCode))
	stepped := e.caller(e.prog, token)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, stepped, b.ID, ""))
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error { // as if a revocation had lowered it
		s, err := tx.Session(stepped.Session.TokenHash)
		if err != nil {
			return err
		}
		s.SteppedUp = false
		return tx.UpdateSession(s)
	}))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	got := e.bulkRecord(b.ID)
	assert.Equal(t, core.BulkFailed, got.State)
	ops, _, err := e.svc.BulkOperations(e.ctx, stepped, b.ID, core.BulkOpFilter{})
	require.NoError(t, err)
	for _, op := range ops {
		assert.Equal(t, core.CodeStepUpRequired, op.Error.Code)
	}
}

// A session that ends pauses the bulk; another session resumes it and runs
// the rest as itself.
func TestBulkPausesWhenItsSessionEnds(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("l", 3))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))
	require.NoError(t, e.svc.Logout(e.ctx, c))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	got := e.bulkRecord(b.ID)
	assert.Equal(t, core.BulkPaused, got.State)
	assert.Equal(t, core.BulkSessionEnded, got.PauseReason)
	assert.Zero(t, got.Done())

	other := e.steppedUpRoot(e.prog, "other-root@example.com")
	assert.ErrorIs(t, e.svc.ResumeBulk(e.ctx, other, b.ID), core.ErrNotFound, "another identity's bulk")
	token := e.login(e.prog, "root@example.com")
	again := e.caller(e.prog, token)
	require.NoError(t, e.svc.StepUpSMS(e.ctx, again, ""))
	require.NoError(t, e.svc.VerifyStepUpSMS(e.ctx, again, core.SandboxCode))
	again = e.caller(e.prog, token)
	require.NoError(t, e.svc.ResumeBulk(e.ctx, again, b.ID))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	requireOnce(t, e.store, e.prog, b.ID, 3)
}

func TestBulkBadInput(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	_, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("x", core.MaxBulkOperations+1))
	assert.Equal(t, []core.FieldError{{Field: "operations", Reason: "SIZE", Params: []string{"1", "10000"}}}, fieldsOf(t, err))
	_, err = e.svc.SubmitUserInviteBulk(e.ctx, c, nil)
	assert.Equal(t, []core.FieldError{{Field: "operations", Reason: "SIZE", Params: []string{"1", "10000"}}}, fieldsOf(t, err))
	_, err = e.svc.GetBulk(e.ctx, c, "999999")
	assert.ErrorIs(t, err, core.ErrNotFound)

	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("x", 1))
	require.NoError(t, err)
	other := e.steppedUpRoot(e.prog, "other@example.com")
	for name, call := range map[string]func() error{
		"get":     func() error { _, err := e.svc.GetBulk(e.ctx, other, b.ID); return err },
		"execute": func() error { return e.svc.ExecuteBulk(e.ctx, other, b.ID, "") },
		"cancel":  func() error { return e.svc.CancelBulk(e.ctx, other, b.ID) },
		"ops":     func() error { _, _, err := e.svc.BulkOperations(e.ctx, other, b.ID, core.BulkOpFilter{}); return err },
	} {
		assert.ErrorIs(t, call(), core.ErrNotFound, name)
	}
	assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(e.svc.PauseBulk(e.ctx, c, b.ID)), "pause a submitted bulk")
	assert.ErrorIs(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, "SOMETIMES"), core.ErrInvalid)
	require.NoError(t, e.svc.CancelBulk(e.ctx, c, b.ID))
	assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(e.svc.ExecuteBulk(e.ctx, c, b.ID, "")), "execute a cancelled bulk")
}

func fieldsOf(t *testing.T, err error) []core.FieldError {
	t.Helper()
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	return ce.Fields
}

// A bulk paused and resumed over and over while it runs neither skips nor
// repeats an operation.
func TestBulkPauseResumeUnderLoad(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	const n = 1000
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("p", n))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))

	var toggling sync.WaitGroup
	var paused atomic.Int64
	toggling.Add(1)
	go func() {
		defer toggling.Done()
		for range 100 {
			if e.svc.PauseBulk(e.ctx, c, b.ID) == nil {
				paused.Add(1)
			}
			_ = e.svc.ResumeBulk(e.ctx, c, b.ID) // INVALID_STATE once it has completed
		}
	}()
	runners := sync.WaitGroup{}
	for range 2 { // two runners at once, as two replicas without a leader would be
		runners.Add(1)
		go func() {
			defer runners.Done()
			for !readBulk(t, e.store, b.ID).Final() {
				assert.NoError(t, e.svc.ProcessBulks(e.ctx))
			}
		}()
	}
	toggling.Wait()
	runners.Wait()
	assert.Positive(t, paused.Load(), "pauses that took")
	requireOnce(t, e.store, e.prog, b.ID, n)
}

// A restart mid-bulk (the process stops at any point, even inside a
// commit: the crash cancels the context just as an Update starts) resumes
// from the next operation: none runs twice.
func TestBulkSurvivesRestart(t *testing.T) {
	e := newCoreEnv(t)
	path := filepath.Join(t.TempDir(), "restart.db")
	start := func(s core.Store, ctx context.Context) *core.Service {
		svc, err := core.New(ctx, core.Config{Sandbox: true, PasswordParams: testParams},
			s, core.Integrations{SMS: e.sms, Email: e.mail}, core.NewOffsetClock(nil))
		require.NoError(t, err)
		return svc
	}
	open := func() *boltstore.Store {
		store, err := boltstore.Open(path, boltstore.Options{})
		require.NoError(t, err)
		return store
	}
	store := open()
	e.store, e.svc = store, start(store, e.ctx)
	e.prog = e.programme("Restart", core.ProgrammeSettings{})
	c := e.steppedUpRoot(e.prog, "root@example.com")
	const n = 300
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("r", n))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))

	restarts := 0
	for ; !readBulk(t, store, b.ID).Final(); restarts++ {
		require.Less(t, restarts, n)
		ctx, stop := context.WithCancel(context.Background())
		svc := start(&crashingStore{Store: store, after: int64(2 + restarts%3), crash: stop}, ctx)
		err := svc.ProcessBulks(ctx)
		stopped := ctx.Err() != nil
		stop()
		require.NoError(t, store.Close())
		if err != nil {
			require.True(t, stopped, "an error other than the crash: %v", err)
		}
		store = open()
	}
	assert.Greater(t, restarts, 1)
	requireOnce(t, store, e.prog, b.ID, n)
	require.NoError(t, store.Close())
}

// crashingStore cancels its context at the after-th Update, which then
// commits or not: a process stopping at any point.
type crashingStore struct {
	core.Store
	n     atomic.Int64
	after int64
	crash func()
}

func (s *crashingStore) Update(ctx context.Context, fn func(core.Tx) error) error {
	if s.n.Add(1) == s.after {
		s.crash()
	}
	return s.Store.Update(ctx, fn)
}

// hookedStore runs its hook, once armed, right after the next View that
// read a session: a change committing between a bulk runner's read of its
// runner and the commit of its operations.
type hookedStore struct {
	core.Store
	hook atomic.Pointer[func()]
}

func (s *hookedStore) View(ctx context.Context, fn func(core.ReadTx) error) error {
	var read bool
	err := s.Store.View(ctx, func(tx core.ReadTx) error { return fn(sessionSpy{tx, &read}) })
	if read {
		if hook := s.hook.Swap(nil); hook != nil {
			(*hook)()
		}
	}
	return err
}

// sessionSpy notes that a session was read.
type sessionSpy struct {
	core.ReadTx
	read *bool
}

func (tx sessionSpy) Session(hash []byte) (*core.Session, error) {
	*tx.read = true
	return tx.ReadTx.Session(hash)
}

// A bulk's operations commit only while their runner still stands, as each
// single call's write does (updateAs): a runner deactivated or signed out
// between the runner's read and the commit pauses the bulk with nothing
// created; one who lost a role runs the operations with what they hold
// now; one who only gained a role runs them all.
func TestBulkRunnerRevokedMeanwhile(t *testing.T) {
	for _, c := range []struct {
		name   string
		revoke func(e *coreEnv, root, runner *core.Caller) error
		check  func(t *testing.T, e *coreEnv, b *core.Bulk)
	}{
		{"deactivated", func(e *coreEnv, root, runner *core.Caller) error {
			return e.svc.SetUserActive(e.ctx, root, runner.User.ID, false)
		}, paused},
		{"signed out", func(e *coreEnv, _, runner *core.Caller) error {
			return e.svc.Logout(e.ctx, runner)
		}, paused},
		{"no longer a user manager", func(e *coreEnv, root, runner *core.Caller) error {
			return setRoles(e, root, runner, core.RoleCardsManagement)
		}, func(t *testing.T, e *coreEnv, b *core.Bulk) {
			assert.Equal(t, core.BulkFailed, b.State)
			assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpFailed, Count: 3}}, b.StatusCounts())
			assert.Equal(t, []string{"INSUFFICIENT_PERMISSIONS"}, bulkErrorCodes(t, e, b.ID), "each operation, with what the runner holds now")
		}},
		{"a role added", func(e *coreEnv, root, runner *core.Caller) error {
			return setRoles(e, root, runner, core.RoleAccessManagement, core.RoleCardsManagement)
		}, func(t *testing.T, e *coreEnv, b *core.Bulk) {
			assert.Equal(t, core.BulkCompleted, b.State)
			assert.Equal(t, []core.BulkOpCount{{Status: core.BulkOpCompleted, Count: 3}}, b.StatusCounts())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newCoreEnv(t)
			root := e.steppedUpRoot(e.prog, "root@example.com")
			runner := e.steppedUpMember(root, "mo@example.com", "7700900111", []core.Role{core.RoleAccessManagement})
			b := e.runBulkMeanwhile(runner, core.RoleCardAssignee, func(string) { require.NoError(t, c.revoke(e, root, runner)) })
			c.check(t, e, b)
		})
	}
}

// paused checks that a bulk paused because its session ended, having
// created no one.
func paused(t *testing.T, e *coreEnv, b *core.Bulk) {
	assert.Equal(t, core.BulkPaused, b.State)
	assert.Equal(t, core.BulkSessionEnded, b.PauseReason)
	assert.Zero(t, b.Done())
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		us, err := tx.UsersByEmail(e.prog.ID, "m0@example.com")
		assert.Empty(t, us, "nobody was created")
		return err
	}))
}

// setRoles gives the runner these roles, as root.
func setRoles(e *coreEnv, root, runner *core.Caller, roles ...core.Role) error {
	_, err := e.svc.UpdateUser(e.ctx, root, runner.User.ID, core.UserPatch{Roles: &roles})
	return err
}

// bulkErrorCodes are the distinct error codes of a bulk's operations.
func bulkErrorCodes(t *testing.T, e *coreEnv, id string) []string {
	var codes []string
	require.NoError(t, e.store.View(e.ctx, func(tx core.ReadTx) error {
		ops, err := tx.BulkOperations(id, 1, 0)
		for _, op := range ops {
			if op.Error != nil && !slices.Contains(codes, op.Error.Code) {
				codes = append(codes, op.Error.Code)
			}
		}
		return err
	}))
	return codes
}

// A bulk paused and resumed by another session while a chunk of it runs:
// the chunk rolls back instead of committing as the runner it began with,
// and the operations run as the one who resumed it (here a funds manager,
// who may create nobody). Found by a review: three admins were created.
func TestBulkResumedByAnotherMeanwhile(t *testing.T) {
	e := newCoreEnv(t)
	admin := e.steppedUpRoot(e.prog, "root@example.com")
	funds := e.steppedUpMember(admin, "fm@example.com", "7700900111", []core.Role{core.RoleFundsManagement})
	got := e.runBulkMeanwhile(admin, core.RoleAdmin, func(id string) {
		require.NoError(t, e.svc.PauseBulk(e.ctx, admin, id))
		require.NoError(t, e.svc.ResumeBulk(e.ctx, funds, id))
	})
	assert.Equal(t, funds.User.ID, got.RunBy)
	assert.Zero(t, got.Completed, "nobody created as the admin after their pause")
	assert.Equal(t, []string{"INSUFFICIENT_PERMISSIONS"}, bulkErrorCodes(t, e, got.ID))
}

// A runner who signs out after another user paused and resumed their bulk
// leaves it running as the resumer: the runner's session ending pauses only
// a bulk still run by that session.
func TestBulkRunnerSignsOutAfterAnotherResumed(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@example.com")
	other := e.steppedUpMember(root, "bo@example.com", "7700900112", []core.Role{core.RoleAccessManagement})
	got := e.runBulkMeanwhile(root, core.RoleCardAssignee, func(id string) {
		require.NoError(t, e.svc.PauseBulk(e.ctx, root, id))
		require.NoError(t, e.svc.ResumeBulk(e.ctx, other, id))
		require.NoError(t, e.svc.Logout(e.ctx, root))
	})
	assert.Equal(t, core.BulkCompleted, got.State, "paused %q", got.PauseReason)
	assert.Equal(t, other.User.ID, got.RunBy)
	assert.Equal(t, 3, got.Completed)
}

// runBulkMeanwhile has runner submit and execute a bulk creating three users
// with role, then runs it on a service whose store runs meanwhile right
// after the runner's read, given the bulk's id; it returns the bulk at the end.
func (e *coreEnv) runBulkMeanwhile(runner *core.Caller, role core.Role, meanwhile func(bulkID string)) *core.Bulk {
	e.t.Helper()
	users := newUsers("m", 3)
	for i := range users {
		users[i].Roles = []core.Role{role}
	}
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, runner, users)
	require.NoError(e.t, err)
	require.NoError(e.t, e.svc.ExecuteBulk(e.ctx, runner, b.ID, ""))
	hooked := &hookedStore{Store: e.store}
	hook := func() { meanwhile(b.ID) }
	hooked.hook.Store(&hook)
	svc, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams},
		hooked, core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(e.t, err)
	require.NoError(e.t, svc.ProcessBulks(e.ctx))
	require.Nil(e.t, hooked.hook.Load(), "meanwhile ran")
	return e.bulkRecord(b.ID)
}

// opCountingStore counts the bulk operations its Views read.
type opCountingStore struct {
	core.Store
	read *atomic.Int64
}

type opCountingTx struct {
	core.ReadTx
	read *atomic.Int64
}

func (s opCountingStore) View(ctx context.Context, fn func(core.ReadTx) error) error {
	return s.Store.View(ctx, func(tx core.ReadTx) error { return fn(opCountingTx{tx, s.read}) })
}

func (t opCountingTx) BulkOperations(bulkID string, from, limit int) ([]*core.BulkOperation, error) {
	ops, err := t.ReadTx.BulkOperations(bulkID, from, limit)
	t.read.Add(int64(len(ops)))
	return ops, err
}

// A page of a bulk's operations filtered by status is the page of the
// unfiltered list that has that status, with their number as the count;
// it reads no more than the page for the statuses that a bulk's order
// places together (SUBMITTED, RUNNING, CANCELLED), and for COMPLETED and
// FAILED, which only settled operations have in any mix, no operation a
// chunk past the page's last. A listing by status used to read and decode
// every operation of the bulk (10,000 of them) at once, at every call,
// without a budget.
func TestBulkOperationsByStatusReadThePage(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	const n = 300
	run := func(prefix string, mode core.BulkMode, fail ...int) string {
		users := newUsers(prefix, n)
		for _, i := range fail {
			users[i].Roles = []core.Role{"NO_SUCH_ROLE"}
		}
		b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, users)
		require.NoError(t, err)
		if mode != "" {
			require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, mode))
			require.NoError(t, e.svc.ProcessBulks(e.ctx))
		}
		return b.ID
	}
	// setState moves a bulk, as if it were still running or paused there.
	setState := func(id string, st core.BulkState) {
		require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
			b, err := tx.Bulk(id)
			if err != nil {
				return err
			}
			b.State, b.FinishedAt = st, time.Time{}
			return tx.UpdateBulk(b)
		}))
	}
	bulks := map[string]string{
		"submitted": run("a", ""),
		"finished":  run("b", core.BulkContinue, 3, 150, 151, 298),
		"stopped":   run("c", core.BulkStop, 1, 2, 120),
		"running":   run("d", core.BulkStop, 5, 130),
		"paused":    run("e", core.BulkStop, 0, 99),
		"cancelled": run("f", ""),
		"completed": run("g", core.BulkContinue),
	}
	setState(bulks["running"], core.BulkRunning)
	setState(bulks["paused"], core.BulkPaused)
	require.NoError(t, e.svc.CancelBulk(e.ctx, c, bulks["cancelled"]))

	read := &atomic.Int64{}
	counted, err := core.New(e.ctx, core.Config{Sandbox: true, PasswordParams: testParams}, opCountingStore{e.store, read},
		core.Integrations{SMS: e.sms, Email: e.mail}, e.clock)
	require.NoError(t, err)
	for name, id := range bulks {
		all, total, err := e.svc.BulkOperations(e.ctx, c, id, core.BulkOpFilter{Limit: 100})
		require.NoError(t, err)
		require.Equal(t, n, total)
		for offset := 100; offset < n; offset += 100 {
			more, _, err := e.svc.BulkOperations(e.ctx, c, id, core.BulkOpFilter{Offset: offset, Limit: 100})
			require.NoError(t, err)
			all = append(all, more...)
		}
		require.Len(t, all, n)
		for _, st := range []core.BulkOpStatus{core.BulkOpSubmitted, core.BulkOpRunning, core.BulkOpCompleted, core.BulkOpFailed, core.BulkOpCancelled} {
			want := []int{}
			for _, op := range all {
				if op.Status == st {
					want = append(want, op.Seq)
				}
			}
			for _, p := range []struct{ offset, limit int }{{0, 100}, {1, 3}, {2, 100}, {97, 5}, {250, 100}, {n, 10}} {
				read.Store(0)
				page, count, err := counted.BulkOperations(e.ctx, c, id, core.BulkOpFilter{Status: st, Offset: p.offset, Limit: p.limit})
				require.NoError(t, err)
				what := fmt.Sprintf("%s bulk, %s, offset %d, limit %d", name, st, p.offset, p.limit)
				assert.Equal(t, len(want), count, what)
				got := []int{}
				for _, op := range page {
					assert.Equal(t, st, op.Status, what)
					got = append(got, op.Seq)
				}
				assert.Equal(t, want[min(p.offset, len(want)):min(p.offset+p.limit, len(want))], got, what)
				bound := int64(len(got))
				if (st == core.BulkOpCompleted || st == core.BulkOpFailed) && len(got) > 0 {
					bound = int64(got[len(got)-1] + 100)
				}
				assert.LessOrEqual(t, read.Load(), bound, "operations read: %s", what)
			}
		}
	}
}

// The runner is not the user: running a bulk does not count as the
// activity of the session it runs as, so that session still idles out
// SessionIdle after its user's last call (Weavr: 5 minutes; PSD2 RTS Art.
// 4(3)(d)), and a bulk does not keep a stepped-up session alive for as long
// as it runs.
func TestBulkRunnerDoesNotKeepItsSessionAlive(t *testing.T) {
	e := newCoreEnv(t)
	_, token := e.root(e.prog, "root@example.com")
	c := e.caller(e.prog, token)
	require.NoError(t, e.svc.EnrolSMS(e.ctx, c))
	require.NoError(t, e.svc.VerifyEnrolSMS(e.ctx, c, e.sms.lastCode(t)))
	c = e.caller(e.prog, token)
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, c, newUsers("i", 1))
	require.NoError(t, err)
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, b.ID, ""))

	e.clock.Advance(5*time.Minute - 2*time.Second) // the user's last call was the execute
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	requireOnce(t, e.store, e.prog, b.ID, 1)
	e.clock.Advance(3 * time.Second)
	_, err = e.svc.Authenticate(e.ctx, e.prog, token)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "idle for 5 minutes and 1 second: only the runner used it")
}

// TestBulkOfAMissingSubmitterFails: a bulk whose submitter's record is
// missing (a damaged or imported store) fails its rows when it runs, rather
// than retrying for ever.
func TestBulkOfAMissingSubmitterFails(t *testing.T) {
	e := newCoreEnv(t)
	c := e.steppedUpRoot(e.prog, "root@example.com")
	var id string
	require.NoError(t, e.store.Update(e.ctx, func(tx core.Tx) error {
		var err error
		if id, err = tx.NextID(); err != nil {
			return err
		}
		u := newUsers("orphan", 1)[0]
		b := &core.Bulk{ID: id, ProgrammeID: e.prog.ID, IdentityID: c.User.IdentityID, SubmittedBy: "999999999",
			Kind: core.BulkUserCreate, Count: 1, State: core.BulkSubmitted, Mode: core.BulkContinue, CreatedAt: e.clock.Now()}
		return tx.InsertBulk(b, []*core.BulkOperation{{BulkID: id, Seq: 1, Status: core.BulkOpSubmitted, User: &u}})
	}))
	require.NoError(t, e.svc.ExecuteBulk(e.ctx, c, id, core.BulkContinue))
	require.NoError(t, e.svc.ProcessBulks(e.ctx))
	ops, _, err := e.svc.BulkOperations(e.ctx, c, id, core.BulkOpFilter{})
	require.NoError(t, err)
	require.Len(t, ops, 1)
	require.NotNil(t, ops[0].Error, "the row failed")
	assert.Equal(t, core.CodeInsufficientPermissions, ops[0].Error.Code)
}
