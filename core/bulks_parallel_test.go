package core_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// Many executes, pauses and resumes fired at once by several admins of the
// identity, while several runners run the bulk: exactly one execute starts
// it, each resume that takes makes its session the runner, and every row
// still runs exactly once (run with -race).
func TestBulkParallelExecuteResumeRunsEachRowOnce(t *testing.T) {
	e := newCoreEnv(t)
	root := e.steppedUpRoot(e.prog, "root@example.com")
	callers := []*core.Caller{root}
	for i := range 3 {
		callers = append(callers, e.steppedUpMember(root, fmt.Sprintf("admin%d@example.com", i),
			fmt.Sprintf("770090020%d", i), []core.Role{core.RoleAdmin}))
	}
	const n = 300
	b, err := e.svc.SubmitUserCreateBulk(e.ctx, root, newUsers("par", n))
	require.NoError(t, err)

	var executed atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			err := e.svc.ExecuteBulk(e.ctx, callers[i%len(callers)], b.ID, "")
			if err == nil {
				executed.Add(1)
				return
			}
			assert.Equal(t, core.CodeBulkInvalidState, core.CodeOf(err))
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), executed.Load(), "executes that took")

	stop := make(chan struct{})
	var runners sync.WaitGroup
	for range 3 {
		runners.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				assert.NoError(t, e.svc.ProcessBulks(e.ctx))
			}
		})
	}
	var resumed atomic.Int64
	var toggling sync.WaitGroup
	for i := range 8 {
		toggling.Go(func() {
			c := callers[i%len(callers)]
			for range 30 {
				_ = e.svc.PauseBulk(e.ctx, c, b.ID)
				if err := e.svc.ResumeBulk(e.ctx, c, b.ID); err == nil {
					resumed.Add(1)
				} else if code := core.CodeOf(err); code != core.CodeBulkInvalidState {
					t.Errorf("resume: %v", err)
				}
			}
		})
	}
	toggling.Wait()
	for !readBulk(t, e.store, b.ID).Final() {
		_ = e.svc.ResumeBulk(e.ctx, root, b.ID) // the togglers may have left it paused
		require.NoError(t, e.svc.ProcessBulks(e.ctx))
	}
	close(stop)
	runners.Wait()
	assert.Positive(t, resumed.Load(), "resumes that took")
	got := readBulk(t, e.store, b.ID)
	assert.Equal(t, core.BulkCompleted, got.State)
	assert.Equal(t, n, got.Completed)
	emails := map[string]int{}
	for _, uc := range e.userCreations(t) {
		if strings.HasPrefix(uc.Email, "par") {
			emails[uc.Email]++
		}
	}
	assert.Len(t, emails, n, "users the bulk created")
	for email, k := range emails {
		assert.Equal(t, 1, k, "%s created", email)
	}
}
