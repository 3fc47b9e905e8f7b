package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Bulk processes (Weavr bulksUserCreate, bulksUserInviteSend, bulks, bulkId,
// bulkIdOperations, bulkIdExecute, bulkIdPause, bulkIdResume, bulkIdCancel).
//
// A bulk is submitted (SUBMITTED), executed by a user of the same identity
// (RUNNING), and then runs in the background (RunBulks), one operation after
// the other, as the session that executed it: each operation is exactly the
// single call (CreateUser, SendInvite), which checks that session's
// permissions, rank and step-up when the operation runs (executing or
// resuming a bulk of creations asks for the step-up up front, too). A session that ends
// pauses the bulk (PauseReason SESSION_ENDED); resuming it runs the rest as
// the resuming session.
//
// Exactly once: an operation's change and its COMPLETED mark commit in one
// transaction (finishIdempotent calls settleBulkStep), which also checks that
// the bulk is still RUNNING and that this operation is the next one. So a
// pause, a cancel, a second runner or a restart between two operations never
// skips one nor runs one twice: a run whose operation was settled meanwhile,
// or whose bulk was paused, rolls back. A failed operation is marked FAILED
// with the single call's error, in a transaction of its own under the same
// checks. Across replicas one runner works at a time (Integrations.Leader).

// Limits and codes of bulks.
const (
	// MaxBulkOperations is the most operations of one bulk (Weavr: 10,000).
	MaxBulkOperations = 10000
	// CodeBulkInvalidState refuses a bulk action its state does not allow
	// (Weavr BulkProcessConflictErrorCode INVALID_STATE).
	CodeBulkInvalidState = "INVALID_STATE"
	// BulkSessionEnded is the PauseReason of a bulk whose runner's session
	// ended (logout, idle, revocation): a user resumes it with their own.
	BulkSessionEnded = "SESSION_ENDED"
	// maxBulkList is the longest page of bulks or operations.
	maxBulkList = 100
	// maxKeptBulks is how many bulks an identity keeps: submitting one more
	// removes its oldest finished ones (keepBulks), so that bulks of 10,000
	// operations each do not fill the store day after day.
	maxKeptBulks = 100
	// maxScannedBulks and maxRemovedBulks bound what keepBulks reads and
	// removes in one submission.
	maxScannedBulks = 1000
	maxRemovedBulks = 10
)

// Permissions of the bulk operations (Weavr x-permissions).
const (
	PermBulksList          Permission = "i:bulks:list"
	PermBulksGet           Permission = "i:bulks:get"
	PermBulksGetOperations Permission = "i:bulks:get_operations"
	PermBulksExecute       Permission = "i:bulks:execute"
	PermBulksPauseResume   Permission = "i:bulks:pause_and_resume"
	PermBulksCancel        Permission = "i:bulks:cancel"
)

var (
	// errBulkHalted rolls back an operation whose bulk stopped running.
	errBulkHalted = errors.New("bulk is not running")
	// errBulkStepTaken rolls back an operation another run settled first.
	errBulkStepTaken = errors.New("bulk operation already settled")
)

// bulkPermissions is the permission a bulk of each kind needs, that of its
// operations' single call: to be submitted, and for a bulk-sized request.
var bulkPermissions = map[BulkKind]Permission{BulkUserCreate: PermUsersCreate, BulkUserInvite: PermUsersInvite}

// MaySubmitBulk reports whether c holds the permission a bulk of kind needs.
func (c *Caller) MaySubmitBulk(kind BulkKind) bool {
	p, ok := bulkPermissions[kind]
	return ok && c.Can(p)
}

// AdmitBulkSubmission lets c submit a bulk of kind, before its body is
// decoded and checked: c must hold its permission, and the submission
// spends one of the identity's RateLimits.BulkSubmissionsPerIdentity,
// whatever becomes of it.
func (s *Service) AdmitBulkSubmission(ctx context.Context, c *Caller, kind BulkKind) error {
	if !c.MaySubmitBulk(kind) {
		return Forbidden(CodeInsufficientPermissions)
	}
	budget := newBudget("bulk-submissions", c.Programme.ID, "identity:"+c.User.IdentityID, s.cfg.RateLimits.BulkSubmissionsPerIdentity)
	return internal("bulk submission budget", s.store.Update(ctx, func(tx Tx) error { return s.spend(tx, budget) }))
}

// SubmitUserCreateBulk submits a bulk of user creations (Weavr
// bulksUserCreate); it needs i:users:create, like each operation, and the
// rank rule on each new user's roles (submittable).
func (s *Service) SubmitUserCreateBulk(ctx context.Context, c *Caller, users []NewUser) (*Bulk, error) {
	ops := make([]*BulkOperation, len(users))
	for i := range users {
		if err := submittable(c, users[i]); err != nil {
			return nil, err
		}
		ops[i] = &BulkOperation{User: &users[i]}
	}
	return s.submitBulk(ctx, c, BulkUserCreate, ops, nil)
}

// submittable refuses a row of a bulk of creations that c could not create
// itself (requireRank on its roles). The bulk runs as whoever executes it,
// who is judged again on each row, but its rows are the submitter's: without
// this, an access manager would submit users without roles, admins or funds
// managers and wait for an admin to execute the bulk. A row naming an
// unknown role is left to fail when it runs, as its single call would.
func submittable(c *Caller, u NewUser) error {
	roles, err := validRoles(u.Roles)
	if err != nil {
		return nil
	}
	return requireRank(c, &User{Roles: roles})
}

// SubmitUserInviteBulk submits a bulk of invites (Weavr
// bulksUserInviteSend); it needs i:users:send_invite, like each operation,
// and the rank rule on each user it names (invitable).
func (s *Service) SubmitUserInviteBulk(ctx context.Context, c *Caller, userIDs []string) (*Bulk, error) {
	ops := make([]*BulkOperation, len(userIDs))
	for i, id := range userIDs {
		ops[i] = &BulkOperation{UserID: id}
	}
	return s.submitBulk(ctx, c, BulkUserInvite, ops, func(tx ReadTx) error { return invitable(tx, c, userIDs) })
}

// invitable refuses a bulk of invites naming a user c could not invite
// itself (invitee: the rank rule), for the reason submittable gives: the bulk runs as
// whoever executes it, but its rows are the submitter's, and an access
// manager would otherwise name pending admins and wait for an admin to
// execute the bulk, re-sending their invites for it. An id naming no user of
// the identity is left to fail when it runs, as its single call would.
func invitable(tx ReadTx, c *Caller, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := invitee(tx, c, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// submitBulk stores a bulk of ops of kind, after check (if set) accepts its
// rows in the submission's transaction.
func (s *Service) submitBulk(ctx context.Context, c *Caller, kind BulkKind, ops []*BulkOperation, check func(ReadTx) error) (*Bulk, error) {
	if !c.MaySubmitBulk(kind) {
		return nil, Forbidden(CodeInsufficientPermissions)
	}
	if len(ops) < 1 || len(ops) > MaxBulkOperations {
		return nil, Invalid("operations", ReasonSize, "1", strconv.Itoa(MaxBulkOperations))
	}
	for i, op := range ops {
		op.Seq, op.Status = i+1, BulkOpSubmitted
	}
	b := &Bulk{ProgrammeID: c.Programme.ID, IdentityID: c.User.IdentityID, SubmittedBy: c.User.ID, Kind: kind,
		Count: len(ops), State: BulkSubmitted, Mode: BulkContinue, CreatedAt: s.clock.Now()}
	spent := newBudget("bulk-operations", c.Programme.ID, "identity:"+c.User.IdentityID, s.cfg.RateLimits.BulkOperationsPerIdentity)
	spent.cost = len(ops)
	err := s.updateAs(ctx, c, func(tx Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		if err := s.spend(tx, spent); err != nil {
			return err
		}
		if err := s.keepBulks(ctx, tx, c.User.IdentityID); err != nil {
			return err
		}
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		b.ID = id
		for _, op := range ops {
			op.BulkID = id
		}
		if err := tx.InsertBulk(b, ops); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, b.ProgrammeID, c.User.ID, "bulk.submit", id,
			map[string]string{"operation": string(kind), "count": strconv.Itoa(b.Count)}); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, b)
	})
	if err != nil {
		return nil, internal("submit bulk", err)
	}
	return b, nil
}

// keepBulks makes room for one more bulk of an identity, in the
// submission's transaction: over maxKeptBulks it removes the oldest finished
// ones among its oldest maxScannedBulks, at most maxRemovedBulks at a time
// (an identity that kept more before this rule shrinks by a few each
// submission), and when none of them has finished it refuses the submission.
func (s *Service) keepBulks(ctx context.Context, tx Tx, identityID string) error {
	page, n, err := tx.Bulks(identityID, "", 0, maxBulkList)
	if err != nil || n < maxKeptBulks {
		return err
	}
	want := min(n-maxKeptBulks+1, maxRemovedBulks)
	var finished []*Bulk
	for offset := 0; ; {
		for _, b := range page {
			if b.Final() && len(finished) < want {
				finished = append(finished, b)
			}
		}
		offset += len(page)
		if len(finished) == want || len(page) == 0 || offset >= min(n, maxScannedBulks) {
			break
		}
		if page, _, err = tx.Bulks(identityID, "", offset, maxBulkList); err != nil {
			return err
		}
	}
	if len(finished) == 0 {
		return &Error{Class: ErrConflict, Code: CodeBulkInvalidState,
			Message: "the identity keeps its last " + strconv.Itoa(maxKeptBulks) + " bulks and none of its oldest has finished: execute or cancel one first"}
	}
	for _, b := range finished {
		if err := tx.DeleteBulk(b.ID); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, b.ProgrammeID, ActorSystem, "bulk.remove", b.ID, map[string]string{"state": string(b.State)}); err != nil {
			return err
		}
	}
	return nil
}

// identityBulk reads a bulk of the caller's identity: unknown ids and other
// identities' bulks are both "not found".
func identityBulk(tx ReadTx, c *Caller, id string) (*Bulk, error) {
	b, err := tx.Bulk(id)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && (b.ProgrammeID != c.Programme.ID || b.IdentityID != c.User.IdentityID)) {
		return nil, NotFound("bulk")
	}
	return b, err
}

// GetBulk returns a bulk of the caller's identity (Weavr bulkId).
func (s *Service) GetBulk(ctx context.Context, c *Caller, id string) (*Bulk, error) {
	if err := require(c, PermBulksGet); err != nil {
		return nil, err
	}
	var b *Bulk
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		b, err = identityBulk(tx, c, id)
		return err
	})
	if err != nil {
		return nil, internal("get bulk", err)
	}
	return b, nil
}

// ListBulks returns a page of the caller's identity's bulks, in submission
// order, those in state only unless it is "" (Weavr bulks).
func (s *Service) ListBulks(ctx context.Context, c *Caller, state BulkState, offset, limit int) ([]*Bulk, int, error) {
	if err := require(c, PermBulksList); err != nil {
		return nil, 0, err
	}
	if err := checkPage(offset, &limit); err != nil {
		return nil, 0, err
	}
	var out []*Bulk
	var count int
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		out, count, err = tx.Bulks(c.User.IdentityID, state, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, internal("list bulks", err)
	}
	return out, count, nil
}

func checkPage(offset int, limit *int) error {
	if offset < 0 {
		return Invalid("offset", ReasonAtLeast, "0")
	}
	if *limit == 0 {
		*limit = maxBulkList
	}
	if *limit < 1 || *limit > maxBulkList {
		return Invalid("limit", ReasonRange, "1", strconv.Itoa(maxBulkList))
	}
	return nil
}

// BulkOpFilter selects operations of a bulk (Weavr bulkIdOperations).
type BulkOpFilter struct {
	Seq    int          // only this one, when not 0 (none when negative)
	Status BulkOpStatus // only in this status (as StatusOf says), when not ""
	Offset int
	Limit  int // 0: 100
}

// BulkOperations returns a page of a bulk's operations matching f, each
// with its status as StatusOf says, and how many match in all (the bulk's
// counts, StatusCounts). It reads the page alone, or, for COMPLETED and
// FAILED, the settled operations up to the page's last a chunk at a time
// (statusSpan), holding one chunk: never every operation of a bulk of
// 10,000 at once, and only those it may need.
func (s *Service) BulkOperations(ctx context.Context, c *Caller, id string, f BulkOpFilter) ([]*BulkOperation, int, error) {
	if err := require(c, PermBulksGetOperations); err != nil {
		return nil, 0, err
	}
	if err := checkPage(f.Offset, &f.Limit); err != nil {
		return nil, 0, err
	}
	var page []*BulkOperation
	count := 0
	err := s.store.View(ctx, func(tx ReadTx) error {
		page, count = nil, 0
		b, err := identityBulk(tx, c, id)
		if err != nil {
			return err
		}
		if f.Seq != 0 {
			if f.Seq < 0 {
				return nil // a sequence no operation has
			}
			ops, err := tx.BulkOperations(id, f.Seq, 1)
			if err != nil {
				return err
			}
			for _, op := range ops {
				if op.Status = b.StatusOf(op); op.Seq == f.Seq && (f.Status == "" || op.Status == f.Status) {
					if count >= f.Offset && len(page) < f.Limit {
						page = append(page, op)
					}
					count++
				}
			}
			return nil
		}
		from, to, n := b.statusSpan(f.Status)
		count = n
		if f.Offset >= n {
			return nil // past the last: nothing to read (and no sequence number past 2^31 to ask for)
		}
		if to-from+1 == n { // every operation of the span matches: read the page alone
			_, err := keepMatching(tx, b, f.Status, from+f.Offset, min(f.Limit, n-f.Offset), 0, f.Limit, &page)
			return err
		}
		skip := f.Offset
		for next := from; next <= to && len(page) < f.Limit && f.Offset+len(page) < n; next += maxBulkList {
			if skip, err = keepMatching(tx, b, f.Status, next, min(maxBulkList, to-next+1), skip, f.Limit, &page); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, internal("list bulk operations", err)
	}
	return page, count, nil
}

// keepMatching reads limit operations of b from sequence from and appends
// to page those whose status is st (any, if ""), after skipping skip of
// them, until page holds want; it returns how many are still to be skipped.
func keepMatching(tx ReadTx, b *Bulk, st BulkOpStatus, from, limit, skip, want int, page *[]*BulkOperation) (int, error) {
	ops, err := tx.BulkOperations(b.ID, from, limit)
	if err != nil {
		return skip, err
	}
	for _, op := range ops {
		if op.Status = b.StatusOf(op); st != "" && op.Status != st {
			continue
		}
		switch {
		case skip > 0:
			skip--
		case len(*page) < want:
			*page = append(*page, op)
		}
	}
	return skip, nil
}

// statusSpan is where b's operations in status st ("" for any) lie: within
// sequences from to to, n of them. Operations settle in order (settleBulkStep),
// so the first Done are COMPLETED or FAILED, in any mix, and every one after
// them is RUNNING (the next, while the bulk runs), CANCELLED (once it is
// final) or SUBMITTED: a span each of those holds whole.
func (b *Bulk) statusSpan(st BulkOpStatus) (from, to, n int) {
	done, rest := b.Done(), b.Count-b.Done()
	running := b.State == BulkRunning && rest > 0
	switch st {
	case "":
		return 1, b.Count, b.Count
	case BulkOpCompleted:
		return 1, done, b.Completed
	case BulkOpFailed:
		return 1, done, b.Failed
	case BulkOpRunning:
		if running {
			return done + 1, done + 1, 1
		}
	case BulkOpCancelled:
		if b.Final() {
			return done + 1, b.Count, rest
		}
	case BulkOpSubmitted:
		switch {
		case running:
			return done + 2, b.Count, rest - 1
		case !b.Final():
			return done + 1, b.Count, rest
		}
	}
	return 1, 0, 0
}

// StatusOf is an operation's status as the API shows it: its own once
// settled; otherwise RUNNING for the next one of a running bulk, CANCELLED
// for those a cancel or a stop left, SUBMITTED for the rest.
func (b *Bulk) StatusOf(op *BulkOperation) BulkOpStatus {
	if op.Status != BulkOpSubmitted {
		return op.Status
	}
	switch {
	case b.State == BulkRunning && op.Seq == b.Done()+1:
		return BulkOpRunning
	case b.Final():
		return BulkOpCancelled
	}
	return BulkOpSubmitted
}

// Final reports whether the bulk will run no more operations.
func (b *Bulk) Final() bool {
	switch b.State {
	case BulkCancelled, BulkCompleted, BulkPartiallyCompleted, BulkFailed:
		return true
	}
	return false
}

// BulkOpCount is how many operations of a bulk are in one status.
type BulkOpCount struct {
	Status BulkOpStatus
	Count  int
}

// StatusCounts counts the bulk's operations by the status StatusOf gives
// them (Weavr operationStatusCounts), leaving out statuses none is in.
func (b *Bulk) StatusCounts() []BulkOpCount {
	rest := b.Count - b.Done()
	counts := map[BulkOpStatus]int{BulkOpCompleted: b.Completed, BulkOpFailed: b.Failed}
	switch {
	case b.Final():
		counts[BulkOpCancelled] = rest
	case b.State == BulkRunning && rest > 0:
		counts[BulkOpRunning], counts[BulkOpSubmitted] = 1, rest-1
	default:
		counts[BulkOpSubmitted] = rest
	}
	var out []BulkOpCount
	for _, st := range []BulkOpStatus{BulkOpSubmitted, BulkOpRunning, BulkOpCompleted, BulkOpFailed, BulkOpCancelled} {
		if counts[st] > 0 {
			out = append(out, BulkOpCount{Status: st, Count: counts[st]})
		}
	}
	return out
}

// ExecuteBulk starts a SUBMITTED bulk (Weavr bulkIdExecute): its operations
// run in the background as the caller's session. mode "" is
// ON_FAILURE_CONTINUE. A bulk of user creations needs a stepped-up session
// from the start, as each of its operations does when it runs: a session
// without one is told at once rather than by every operation failing.
func (s *Service) ExecuteBulk(ctx context.Context, c *Caller, id string, mode BulkMode) error {
	switch mode {
	case "":
		mode = BulkContinue
	case BulkContinue, BulkStop:
	default:
		return Invalid("mode", ReasonIn, string(BulkContinue), string(BulkStop))
	}
	return s.moveBulk(ctx, c, id, PermBulksExecute, "bulk.execute", func(b *Bulk, now time.Time) error {
		if b.State != BulkSubmitted {
			return bulkInvalidState(b)
		}
		if err := requireBulkStepUp(c, b); err != nil {
			return err
		}
		b.State, b.Mode, b.StartedAt = BulkRunning, mode, now
		b.RunBy, b.SessionHash = c.User.ID, c.Session.TokenHash
		return nil
	})
}

// requireBulkStepUp asks a session that would run b for the step-up its
// operations need. Under the operation-bound step-up (stepupscope.go) a
// step-up grants one call, so no session step-up can stand for a bulk's:
// there each creation asks for its own, as its single call does, and fails
// with STEP_UP_REQUIRED.
func requireBulkStepUp(c *Caller, b *Bulk) error {
	if b.Kind == BulkUserCreate && c.Programme.Settings.Scope() != StepUpOperation {
		return RequireStepUp(c)
	}
	return nil
}

func bulkInvalidState(b *Bulk) error {
	return &Error{Class: ErrConflict, Code: CodeBulkInvalidState, Message: "the bulk is " + string(b.State)}
}

// PauseBulk pauses a RUNNING bulk (Weavr bulkIdPause): no operation starts
// after it returns, and one under way when it commits rolls back.
func (s *Service) PauseBulk(ctx context.Context, c *Caller, id string) error {
	return s.moveBulk(ctx, c, id, PermBulksPauseResume, "bulk.pause", func(b *Bulk, _ time.Time) error {
		if b.State != BulkRunning {
			return bulkInvalidState(b)
		}
		b.State = BulkPaused
		return nil
	})
}

// ResumeBulk runs a PAUSED bulk again (Weavr bulkIdResume), from its next
// operation, as the caller's session (stepped up for user creations).
func (s *Service) ResumeBulk(ctx context.Context, c *Caller, id string) error {
	return s.moveBulk(ctx, c, id, PermBulksPauseResume, "bulk.resume", func(b *Bulk, _ time.Time) error {
		if b.State != BulkPaused {
			return bulkInvalidState(b)
		}
		if err := requireBulkStepUp(c, b); err != nil {
			return err
		}
		b.State, b.PauseReason = BulkRunning, ""
		b.RunBy, b.SessionHash = c.User.ID, c.Session.TokenHash
		return nil
	})
}

// CancelBulk ends a bulk that has not finished (Weavr bulkIdCancel): its
// operations not yet run are CANCELLED, for good.
func (s *Service) CancelBulk(ctx context.Context, c *Caller, id string) error {
	return s.moveBulk(ctx, c, id, PermBulksCancel, "bulk.cancel", func(b *Bulk, now time.Time) error {
		if b.Final() {
			return bulkInvalidState(b)
		}
		b.State, b.FinishedAt = BulkCancelled, now
		return nil
	})
}

// moveBulk changes a bulk of the caller's identity with move, which refuses
// a change its state does not allow, and wakes the runner.
func (s *Service) moveBulk(ctx context.Context, c *Caller, id string, p Permission, action string, move func(*Bulk, time.Time) error) error {
	if err := require(c, p); err != nil {
		return err
	}
	err := s.updateAs(ctx, c, func(tx Tx) error {
		b, err := identityBulk(tx, c, id)
		if err != nil {
			return err
		}
		if err := move(b, s.clock.Now()); err != nil {
			return err
		}
		if err := tx.UpdateBulk(b); err != nil {
			return err
		}
		return s.audit(ctx, tx, b.ProgrammeID, c.User.ID, action, b.ID, nil)
	})
	if err != nil {
		return internal(action, err)
	}
	s.wakeBulks()
	return nil
}

// wakeBulks tells RunBulks that a bulk may be ready to run.
func (s *Service) wakeBulks() {
	select {
	case s.bulkWake <- struct{}{}:
	default:
	}
}

// RunBulks runs the RUNNING bulks until ctx ends: at once when this process
// executes or resumes one, and every tick for those of other replicas and
// those a restart interrupted.
func (s *Service) RunBulks(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := s.ProcessBulks(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("run bulks", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.bulkWake:
		}
	}
}

// ProcessBulks runs every RUNNING bulk until none is left running, on one
// replica at a time. The identities take turns, a chunk of one of their
// bulks each, and an identity's bulks take turns in its own: so neither a
// bulk of 10,000 operations nor an identity running the 100 bulks it keeps
// holds up the bulks of another identity, perhaps of another programme,
// until they end. It stops at the first error of the store, leaving the
// bulk where it was.
func (s *Service) ProcessBulks(ctx context.Context) error {
	return s.lead(ctx, "bulks", func(ctx context.Context) error {
		turns := map[string]int{} // turns each identity has had
		for ctx.Err() == nil {
			var running []*Bulk
			err := s.store.View(ctx, func(tx ReadTx) error {
				var err error
				running, err = tx.RunningBulks(0)
				return err
			})
			if err != nil || len(running) == 0 {
				return internal("running bulks", err)
			}
			var order []string
			byIdentity := map[string][]*Bulk{}
			for _, b := range running {
				if byIdentity[b.IdentityID] == nil {
					order = append(order, b.IdentityID)
				}
				byIdentity[b.IdentityID] = append(byIdentity[b.IdentityID], b)
			}
			for _, identity := range order {
				bs := byIdentity[identity]
				b := bs[turns[identity]%len(bs)]
				turns[identity]++
				if err := s.runBulkChunk(ctx, b.ID); err != nil {
					return err
				}
			}
		}
		return ctx.Err()
	})
}

// bulkChunk is how many operations a bulk commits together at most: each
// keeps its own checks, writes and COMPLETED mark, and a pause or an
// operation's failure rolls the whole chunk back, to run again.
const bulkChunk = 64

// bulkAfterParallel is how many operations of a chunk do what follows their
// commit (an invite's email) at once, so that a slow mail server holds up
// the runner, and the bulks waiting their turn, a fraction as long.
const bulkAfterParallel = 8

// runBulkChunk runs the next chunk of a bulk's operations, if it is still
// RUNNING: those that succeed, or the first one's failure.
func (s *Service) runBulkChunk(ctx context.Context, id string) error {
	var (
		b    *Bulk
		ops  []*BulkOperation
		sess *Session
		user *User
		prog *Programme
	)
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if b, err = runningBulk(tx, id); err != nil || b == nil {
			return err
		}
		if ops, err = tx.BulkOperations(id, b.Done()+1, bulkChunk); err != nil {
			return err
		}
		if sess, err = tx.Session(b.SessionHash); errors.Is(err, ErrRecordNotFound) {
			sess = nil
			return nil
		} else if err != nil {
			return err
		}
		if user, err = tx.User(sess.UserID); err != nil {
			return err
		}
		prog, err = tx.Programme(sess.ProgrammeID)
		return err
	})
	switch {
	case err != nil:
		return internal("run bulk", err)
	case b == nil:
		return nil
	case len(ops) == 0:
		return fmt.Errorf("bulk %s: operation %d of %d is missing", id, b.Done()+1, b.Count)
	}
	var c *Caller
	if sess != nil && user.IdentityID == b.IdentityID {
		c, err = s.admitCaller(prog, sess, user) // the runner is not the user's activity
	}
	if c == nil {
		if errors.Is(err, ErrUnauthenticated) || err == nil {
			return s.pauseEnded(ctx, id, b.SessionHash)
		}
		return err
	}
	err = s.runBulkOps(ctx, c, b, ops)
	switch {
	case errors.Is(err, errRolesChanged):
		return nil // the runner lost a permission meanwhile: its next turn reads them again
	case errors.Is(err, ErrUnauthenticated) || CodeOf(err) == CodeCredentialsInactive:
		return s.pauseEnded(ctx, id, b.SessionHash) // the runner's session ended meanwhile
	}
	var ce *Error
	if errors.As(err, &ce) && !errors.Is(err, ErrUnavailable) {
		// The first operation failed as its single call would: so be it.
		err = s.store.Update(ctx, func(tx Tx) error {
			return s.settleBulkStep(ctx, tx, &bulkStep{bulkID: id, seq: ops[0].Seq, runner: c.Session.TokenHash}, nil,
				&BulkOpError{Class: ce.Class.Error(), Code: ce.Code, Message: ce.Message, Fields: ce.Fields})
		})
	}
	if errors.Is(err, errBulkHalted) || errors.Is(err, errBulkStepTaken) {
		return nil
	}
	return err
}

// runningBulk reads bulk id if it is RUNNING, else nil: stopped, or removed
// (keepBulks) since the runner listed it.
func runningBulk(tx ReadTx, id string) (*Bulk, error) {
	b, err := tx.Bulk(id)
	if errors.Is(err, ErrRecordNotFound) || (err == nil && b.State != BulkRunning) {
		return nil, nil
	}
	return b, err
}

// runBulkOps runs the longest prefix of b's ops that succeeds in one
// transaction made for c (updateAs), each operation held to its submitter's
// rank (submitterRow), then through its single call's work and settled in
// its transaction; then what each does after its commit, bulkAfterParallel
// at a time. It returns the first operation's error when not even that one
// succeeds, or callerStands' when c no longer stands.
func (s *Service) runBulkOps(ctx context.Context, c *Caller, b *Bulk, ops []*BulkOperation) error {
	works := make([]*work, 0, len(ops))
	for _, op := range ops {
		w, err := s.bulkWork(c, b.Kind, op)
		if err != nil {
			if len(works) == 0 {
				return err
			}
			break
		}
		works = append(works, w)
	}
	for {
		failed := -1
		err := s.updateAs(ctx, c, func(tx Tx) error {
			failed = -1
			submitter, err := tx.User(b.SubmittedBy)
			if errors.Is(err, ErrRecordNotFound) {
				submitter = nil // a damaged or imported store: its rows fail
			} else if err != nil {
				return err
			}
			for i, w := range works {
				step := &bulkStep{bulkID: ops[i].BulkID, seq: ops[i].Seq, runner: c.Session.TokenHash}
				err := submitterRow(tx, submitter, b.Kind, ops[i])
				if err == nil {
					err = w.in(context.WithValue(ctx, bulkStepKey{}, step), tx)
				}
				if err == nil && !step.settled { // a work that commits nothing of its own
					err = s.settleBulkStep(ctx, tx, step, w.result, nil)
				}
				if err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err == nil {
			break
		}
		if failed <= 0 {
			return err
		}
		works = works[:failed] // those before the failure, once more
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, bulkAfterParallel)
	for i, w := range works {
		if w.after == nil {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := w.after(ctx); err != nil { // the operation stands, as its single call's change does
				s.log.ErrorContext(ctx, "bulk operation after its commit", slog.String("bulk", ops[i].BulkID),
					slog.Int("sequence", ops[i].Seq), slog.String("error", err.Error()))
			}
		})
	}
	wg.Wait()
	return nil
}

// submitterRow holds an operation, when it runs, to the permission and the
// rank of the user who submitted its bulk, as they are now: submittable and
// invitable judged the rows at submission, but a user promoted past the
// submitter since, or made under an id the submitter named before it
// existed (ids are sequential), would otherwise be invited for a weaker
// submitter by a stronger runner. A submitter deactivated since (or
// missing, nil), or whose roles no longer grant the bulk's permission
// (MaySubmitBulk: demoted to a role that may not create or invite users),
// could not do the row one by one: deactivation and demotion end what they
// queued too. The runner is judged as well, by the single call.
func submitterRow(tx ReadTx, submitter *User, kind BulkKind, op *BulkOperation) error {
	c := &Caller{User: submitter}
	if submitter == nil || !submitter.Active || !c.MaySubmitBulk(kind) {
		return Forbidden(CodeInsufficientPermissions)
	}
	switch kind {
	case BulkUserCreate:
		return submittable(c, *op.User)
	case BulkUserInvite:
		return invitable(tx, c, []string{op.UserID})
	}
	return nil
}

// bulkWork is the work of one operation: its single call's.
func (s *Service) bulkWork(c *Caller, kind BulkKind, op *BulkOperation) (*work, error) {
	switch kind {
	case BulkUserCreate:
		return s.createUserWork(c, *op.User)
	case BulkUserInvite:
		return s.sendInviteWork(c, op.UserID)
	}
	return nil, fmt.Errorf("bulk %s: unknown kind %q", op.BulkID, kind)
}

// pauseEnded pauses a bulk whose runner's session, runner, ended: unless
// it was paused and resumed as another session meanwhile, which runs it on.
func (s *Service) pauseEnded(ctx context.Context, id string, runner []byte) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		b, err := runningBulk(tx, id)
		if err != nil || b == nil || !bytes.Equal(b.SessionHash, runner) {
			return err
		}
		b.State, b.PauseReason = BulkPaused, BulkSessionEnded
		if err := tx.UpdateBulk(b); err != nil {
			return err
		}
		return s.audit(ctx, tx, b.ProgrammeID, ActorSystem, "bulk.pause", b.ID, map[string]string{"reason": BulkSessionEnded})
	})
	return internal("pause bulk", err)
}

// errorClasses are the classes a BulkOpError may name.
var errorClasses = []error{ErrInvalid, ErrUnauthenticated, ErrInvalidCredentials, ErrPermissionDenied, ErrStepUpRequired,
	ErrNotFound, ErrConflict, ErrLocked, ErrRateLimited, ErrTokenNotFound, ErrUnavailable}

// Err is the error the single call failed with.
func (e *BulkOpError) Err() *Error {
	out := &Error{Class: ErrConflict, Code: e.Code, Message: e.Message, Fields: e.Fields}
	for _, c := range errorClasses {
		if c.Error() == e.Class {
			out.Class = c
		}
	}
	return out
}

// bulkStep is the operation of a bulk that ctx runs, carried into the
// operation's transaction (finishIdempotent), which settles it.
type bulkStep struct {
	bulkID  string
	seq     int
	runner  []byte // the session hash it runs as: the bulk's when the run began
	settled bool   // set by the transaction that settled it, which may still fail
}

type bulkStepKey struct{}

// settleBulkStep settles the bulk operation of ctx in tx, completed with
// result (the created user, if any) or failed with opErr, when its bulk
// still runs as the step's runner and it is the next operation; else it fails tx with
// errBulkHalted or errBulkStepTaken. The last operation, or a failure under
// ON_FAILURE_STOP, ends the bulk.
func (s *Service) settleBulkStep(ctx context.Context, tx Tx, step *bulkStep, result any, opErr *BulkOpError) error {
	b, err := runningBulk(tx, step.bulkID)
	if err != nil {
		return err
	}
	if b == nil || !bytes.Equal(b.SessionHash, step.runner) {
		return errBulkHalted // stopped or removed, or paused and resumed as another session meanwhile
	}
	if b.Done()+1 != step.seq {
		return errBulkStepTaken
	}
	ops, err := tx.BulkOperations(b.ID, step.seq, 1)
	if err != nil {
		return err
	}
	if len(ops) == 0 || ops[0].Seq != step.seq || ops[0].Status != BulkOpSubmitted {
		return errBulkStepTaken
	}
	op, now := ops[0], s.clock.Now()
	op.At = now
	if opErr != nil {
		op.Status, op.Error = BulkOpFailed, opErr
		b.Failed++
	} else {
		op.Status = BulkOpCompleted
		if u, ok := result.(*User); ok {
			op.Created = u
		}
		b.Completed++
	}
	if err := tx.UpdateBulkOperation(op); err != nil {
		return err
	}
	ended := b.Done() == b.Count || (opErr != nil && b.Mode == BulkStop)
	if ended {
		switch {
		case b.Completed == b.Count:
			b.State = BulkCompleted
		case b.Completed == 0:
			b.State = BulkFailed
		default:
			b.State = BulkPartiallyCompleted
		}
		b.FinishedAt = now
	}
	if err := tx.UpdateBulk(b); err != nil {
		return err
	}
	if ended {
		if err := s.audit(ctx, tx, b.ProgrammeID, ActorSystem, "bulk.end", b.ID, map[string]string{"state": string(b.State),
			"count": strconv.Itoa(b.Count), "completed": strconv.Itoa(b.Completed), "failed": strconv.Itoa(b.Failed)}); err != nil {
			return err
		}
	}
	step.settled = true
	return nil
}
