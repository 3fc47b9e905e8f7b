package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Bulk process statuses (Weavr BulkProcessStatus) and modes.
const (
	BulkSubmitted          = "SUBMITTED"
	BulkRunning            = "RUNNING"
	BulkPaused             = "PAUSED"
	BulkCancelled          = "CANCELLED"
	BulkCompleted          = "COMPLETED"
	BulkPartiallyCompleted = "PARTIALLY_COMPLETED"
	BulkFailed             = "FAILED"
	BulkOnFailureContinue  = "ON_FAILURE_CONTINUE"
	BulkOnFailureStop      = "ON_FAILURE_STOP"
	// MaxBulkOperations is the most rows of one bulk.
	MaxBulkOperations = 10000
)

// Bulk is a bulk process (Weavr BulkProcessDetails).
type Bulk struct {
	ID                    string            `json:"bulkId"`
	Status                string            `json:"status"`
	SubmittedItemsCount   int               `json:"submittedItemsCount"`
	ExecutionStart        int64             `json:"executionStart,omitempty"`
	ExecutionFinish       int64             `json:"executionFinish,omitempty"`
	Operation             string            `json:"operation"`
	Mode                  string            `json:"mode,omitempty"`
	OperationStatusCounts []BulkStatusCount `json:"operationStatusCounts"`
	// PauseReason is SESSION_ENDED when the session running the bulk ended
	// (Deputy extension): resume it with a session of your own.
	PauseReason string `json:"pauseReason,omitempty"`
}

// BulkStatusCount is how many of a bulk's operations are in one status.
type BulkStatusCount struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// Count returns how many operations are in status.
func (b *Bulk) Count(status string) int {
	for _, c := range b.OperationStatusCounts {
		if c.Status == status {
			return c.Count
		}
	}
	return 0
}

// Final reports whether the bulk will run no more operations.
func (b *Bulk) Final() bool {
	switch b.Status {
	case BulkCancelled, BulkCompleted, BulkPartiallyCompleted, BulkFailed:
		return true
	}
	return false
}

// BulkOperation is one operation of a bulk (Weavr BulkProcessOperation):
// the single call's path and body and, once it ran, its answer.
type BulkOperation struct {
	ID              string `json:"operationId"`
	Sequence        int    `json:"sequence"`
	Method          string `json:"method"`
	Path            string `json:"path"`
	Status          string `json:"status"`
	RequestPayload  string `json:"requestPayload,omitempty"`
	ResponsePayload string `json:"responsePayload,omitempty"`
}

// Failure is the error a FAILED operation's single call answered (its
// responsePayload), nil for any other. Its Status is unknown (0): match it
// by Code and Fields.
func (o *BulkOperation) Failure() *Error {
	if o.Status != BulkFailed {
		return nil
	}
	e := &Error{}
	e.readBody([]byte(o.ResponsePayload))
	return e
}

// BulkOperationPage is one page of a bulk's operations.
type BulkOperationPage struct {
	Count         int             `json:"count"`
	Operations    []BulkOperation `json:"operations"`
	ResponseCount int             `json:"responseCount"`
}

type bulkUserRow struct {
	RequestBody UserCreate `json:"requestBody"`
}

// SubmitUserBulk stores up to [MaxBulkOperations] user creations as one
// bulk, SUBMITTED (Weavr bulksUserCreate); a bad row is an [ErrInvalid]
// naming it ("[3].requestBody.email") and nothing is stored. Run it with
// [Session.ExecuteBulk]. Accepts [IdempotencyRef].
func (s *Session) SubmitUserBulk(ctx context.Context, users []UserCreate, opts ...CallOption) (*Bulk, error) {
	rows := make([]bulkUserRow, len(users))
	for i, u := range users {
		rows[i].RequestBody = u
	}
	var out struct {
		ID    string `json:"bulkId"`
		Count int    `json:"operationCount"`
		Path  string `json:"path"`
	}
	if err := s.do(ctx, &call{op: "submit user bulk", method: http.MethodPost, path: "/multi/bulks/users", in: rows, out: &out}, opts...); err != nil {
		return nil, err
	}
	return &Bulk{ID: out.ID, Status: BulkSubmitted, SubmittedItemsCount: out.Count, Operation: out.Path,
		OperationStatusCounts: []BulkStatusCount{{Status: BulkSubmitted, Count: out.Count}}}, nil
}

func bulkPath(op, id, rest string) (string, error) {
	id, err := pathID("bulk_id", id)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return "/multi/bulks/" + id + rest, nil
}

// Bulk reads a bulk process of the identity (Weavr bulkId).
func (s *Session) Bulk(ctx context.Context, id string) (*Bulk, error) {
	const op = "get bulk"
	path, err := bulkPath(op, id, "")
	if err != nil {
		return nil, err
	}
	var out Bulk
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// BulkOperations returns one page of a bulk's operations in sequence order,
// only those in status unless it is "" (Weavr bulkIdOperations).
func (s *Session) BulkOperations(ctx context.Context, id, status string, offset, limit int) (*BulkOperationPage, error) {
	const op = "list bulk operations"
	path, err := bulkPath(op, id, "/operations")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if offset != 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out BulkOperationPage
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: path, query: q, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExecuteBulk starts a SUBMITTED bulk (Weavr bulkIdExecute): its operations
// run in the background as this session, each needing what its single call
// needs (a stepped-up session to create users). mode "" is
// [BulkOnFailureContinue]. Not SUBMITTED: [ErrConflict] INVALID_STATE.
func (s *Session) ExecuteBulk(ctx context.Context, id, mode string) error {
	const op = "execute bulk"
	path, err := bulkPath(op, id, "/execute")
	if err != nil {
		return err
	}
	in := struct {
		Mode string `json:"mode,omitempty"`
	}{mode}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path, in: in})
}

// PauseBulk pauses a RUNNING bulk (Weavr bulkIdPause).
func (s *Session) PauseBulk(ctx context.Context, id string) error {
	return s.moveBulk(ctx, "pause", id)
}

// ResumeBulk runs a PAUSED bulk again, as this session (Weavr bulkIdResume).
func (s *Session) ResumeBulk(ctx context.Context, id string) error {
	return s.moveBulk(ctx, "resume", id)
}

// CancelBulk ends a bulk that has not finished, for good (Weavr bulkIdCancel).
func (s *Session) CancelBulk(ctx context.Context, id string) error {
	return s.moveBulk(ctx, "cancel", id)
}

func (s *Session) moveBulk(ctx context.Context, action, id string) error {
	op := action + " bulk"
	path, err := bulkPath(op, id, "/"+action)
	if err != nil {
		return err
	}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: path})
}
