package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/deputyhq/deputy/core"
)

// Bulk processes (Weavr bulksUserCreate, bulksUserInviteSend, bulks, bulkId,
// bulkIdOperations, bulkIdExecute, bulkIdPause, bulkIdResume, bulkIdCancel;
// core/bulks.go). Each row of a submission passes the single call's checks
// before anything is stored, and the 400 names the row: "[3].requestBody.email".

func (s *Server) bulkRoutes() {
	s.handle("POST /multi/bulks/users", userToken, true, s.bulksUserCreate)
	s.handle("POST /multi/bulks/users/_user_id_/invite", userToken, true, s.bulksUserInviteSend)
	s.handle("GET /multi/bulks", userToken, false, s.bulks)
	s.handle("GET /multi/bulks/{bulk_id}", userToken, false, s.bulkGet)
	s.handle("GET /multi/bulks/{bulk_id}/operations", userToken, false, s.bulkOperations)
	s.handle("POST /multi/bulks/{bulk_id}/execute", userToken, false, s.bulkExecute)
	s.handle("POST /multi/bulks/{bulk_id}/pause", userToken, false, s.bulkMove(s.svc.PauseBulk))
	s.handle("POST /multi/bulks/{bulk_id}/resume", userToken, false, s.bulkMove(s.svc.ResumeBulk))
	s.handle("POST /multi/bulks/{bulk_id}/cancel", userToken, false, s.bulkMove(s.svc.CancelBulk))
}

// maxBulkBodyBytes caps the body of a bulk submission: 10,000 rows of the
// longest user.
const maxBulkBodyBytes = 10 << 20

// bulkSubmissions are the paths that submit bulks, with their kinds.
var bulkSubmissions = map[string]core.BulkKind{
	"/multi/bulks/users":                  core.BulkUserCreate,
	"/multi/bulks/users/_user_id_/invite": core.BulkUserInvite,
}

// bodyLimit is the largest body r may have: a bulk submission's for a caller
// who may submit it (Caller.MaySubmitBulk), or before the caller is known
// (nil); maxBodyBytes otherwise, so that nobody else makes the server read
// and decode megabytes only to be refused.
func bodyLimit(r *http.Request, caller *core.Caller) int64 {
	if kind, ok := bulkSubmissions[r.URL.Path]; ok && r.Method == http.MethodPost && (caller == nil || caller.MaySubmitBulk(kind)) {
		return maxBulkBodyBytes
	}
	return maxBodyBytes
}

type (
	bulkUserCreateItem struct {
		PathParams  *struct{}          `json:"pathParams"`
		RequestBody *userCreateRequest `json:"requestBody"`
	}
	bulkUserInviteItem struct {
		PathParams *struct {
			UserID string `json:"_user_id_"`
		} `json:"pathParams"`
	}
	bulkSubmitted struct {
		BulkID         string `json:"bulkId"`
		OperationCount int    `json:"operationCount"`
		Path           string `json:"path"`
	}
	bulkOpCountJSON struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	// bulkJSON is Weavr's BulkProcessDetails (BulkProcess and its counts).
	bulkJSON struct {
		BulkID                string            `json:"bulkId"`
		Status                string            `json:"status"`
		SubmittedItemsCount   int               `json:"submittedItemsCount"`
		ExecutionStart        int64             `json:"executionStart,omitempty"`
		ExecutionFinish       int64             `json:"executionFinish,omitempty"`
		Operation             string            `json:"operation"`
		Mode                  string            `json:"mode,omitempty"`
		OperationStatusCounts []bulkOpCountJSON `json:"operationStatusCounts"`
		// PauseReason is a Deputy extension: SESSION_ENDED when the session
		// running the bulk ended and a user must resume it.
		PauseReason string `json:"pauseReason,omitempty"`
	}
	bulksJSON struct {
		Count         int        `json:"count"`
		BulkProcesses []bulkJSON `json:"bulkProcesses"`
		ResponseCount int        `json:"responseCount"`
	}
	bulkOpJSON struct {
		OperationID     string `json:"operationId"`
		Sequence        int    `json:"sequence"`
		Method          string `json:"method"`
		Path            string `json:"path"`
		Status          string `json:"status"`
		RequestPayload  string `json:"requestPayload,omitempty"`
		ResponsePayload string `json:"responsePayload,omitempty"`
	}
	bulkOpsJSON struct {
		Count         int          `json:"count"`
		Operations    []bulkOpJSON `json:"operations"`
		ResponseCount int          `json:"responseCount"`
	}
	bulkExecuteRequest struct {
		Mode string `json:"mode"`
		// WebhookInterval is accepted as Weavr does; Deputy sends the
		// bulk_process_end event only.
		WebhookInterval *int `json:"webhookInterval"`
	}
)

// decodeBulk decodes a submission, an array of rows, one row at a time. It
// splits the array first (bulkRows), refusing an empty or over-long one and
// a row over a single call's body limit before decoding any row, so that
// neither 10 MiB of "{}" rows nor one row holding them becomes gigabytes of
// decoded values. A row's decoding error names the row: "[3].requestBody".
func decodeBulk[T any](body []byte) ([]T, error) {
	raws, err := bulkRows(body)
	if err != nil {
		return nil, err
	}
	rows := make([]T, len(raws))
	for i, raw := range raws {
		if err := decodeJSON(raw, &rows[i]); err != nil {
			return nil, inRow(i, err)
		}
	}
	return rows, nil
}

// bulkRows splits body, a JSON array of 1 to MaxBulkOperations rows of at
// most maxBodyBytes each, into its rows, stopping at the first that is one
// too many or too large.
func bulkRows(body []byte) ([]json.RawMessage, error) {
	size := core.Invalid("operations", core.ReasonSize, "1", strconv.Itoa(core.MaxBulkOperations))
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		if err != nil {
			return nil, jsonError(err, body, &[]json.RawMessage{})
		}
		return nil, &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body must be a JSON array of operations."}
	}
	var rows []json.RawMessage
	for dec.More() {
		if len(rows) == core.MaxBulkOperations {
			return nil, size
		}
		var row json.RawMessage
		if err := dec.Decode(&row); err != nil {
			return nil, jsonError(err, body, &[]json.RawMessage{})
		}
		if len(row) > maxBodyBytes {
			return nil, core.Invalid("["+strconv.Itoa(len(rows))+"]", core.ReasonSize, "0", strconv.Itoa(maxBodyBytes))
		}
		rows = append(rows, row)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, jsonError(err, body, &[]json.RawMessage{})
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, &core.Error{Class: core.ErrInvalid, Message: "Bad request: unexpected data after the JSON array."}
	}
	if len(rows) == 0 {
		return nil, size
	}
	return rows, nil
}

// inRow names row i in err, the decoding error of that row alone.
func inRow(i int, err error) error {
	var ce *core.Error
	if !errors.As(err, &ce) {
		return err
	}
	row, out := "["+strconv.Itoa(i)+"]", *ce
	out.Fields = make([]core.FieldError, len(ce.Fields))
	for j, f := range ce.Fields {
		if f.Field == "" {
			f.Field = row
		} else {
			f.Field = row + "." + f.Field
		}
		out.Fields[j] = f
	}
	out.Message = strings.Replace(ce.Message, "Bad request: ", "Bad request: row "+row+": ", 1)
	return &out
}

// row adds the field errors of row i to f, named as in the submission.
func (f *fields) row(i int, part string, row *fields) {
	for _, e := range row.errs {
		e.Field = "[" + strconv.Itoa(i) + "]." + part + "." + e.Field
		f.errs = append(f.errs, e)
	}
}

// bulksUserCreate implements Weavr bulksUserCreate.
func (s *Server) bulksUserCreate(r *request) (reply, error) {
	if err := s.svc.AdmitBulkSubmission(r.Context(), r.caller, core.BulkUserCreate); err != nil {
		return reply{}, err
	}
	rows, err := decodeBulk[bulkUserCreateItem](r.body)
	if err != nil {
		return reply{}, err
	}
	var f fields
	users := make([]core.NewUser, len(rows))
	for i, row := range rows {
		if row.RequestBody == nil {
			f.add("["+strconv.Itoa(i)+"].requestBody", core.ReasonRequired)
			continue
		}
		var rf fields
		users[i] = row.RequestBody.check(&rf)
		f.row(i, "requestBody", &rf)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	b, err := s.svc.SubmitUserCreateBulk(answering(r, bulkSubmittedAnswer), r.caller, users)
	if err != nil {
		return reply{}, err
	}
	return bulkSubmittedAnswer(b)
}

// bulksUserInviteSend implements Weavr bulksUserInviteSend.
func (s *Server) bulksUserInviteSend(r *request) (reply, error) {
	if err := s.svc.AdmitBulkSubmission(r.Context(), r.caller, core.BulkUserInvite); err != nil {
		return reply{}, err
	}
	rows, err := decodeBulk[bulkUserInviteItem](r.body)
	if err != nil {
		return reply{}, err
	}
	var f fields
	ids := make([]string, len(rows))
	for i, row := range rows {
		field := "[" + strconv.Itoa(i) + "].pathParams._user_id_"
		switch {
		case row.PathParams == nil || row.PathParams.UserID == "":
			f.add(field, core.ReasonRequired)
		case !reDigits.MatchString(row.PathParams.UserID) || len(row.PathParams.UserID) > 20:
			f.add(field, core.ReasonRegex, reDigits.String())
		default:
			ids[i] = row.PathParams.UserID
		}
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	b, err := s.svc.SubmitUserInviteBulk(answering(r, bulkSubmittedAnswer), r.caller, ids)
	if err != nil {
		return reply{}, err
	}
	return bulkSubmittedAnswer(b)
}

func bulkSubmittedAnswer(b *core.Bulk) (reply, error) {
	return reply{status: http.StatusCreated, body: bulkSubmitted{BulkID: b.ID, OperationCount: b.Count, Path: string(b.Kind)}}, nil
}

func bulkResponse(b *core.Bulk) bulkJSON {
	out := bulkJSON{BulkID: b.ID, Status: string(b.State), SubmittedItemsCount: b.Count, Operation: string(b.Kind),
		OperationStatusCounts: []bulkOpCountJSON{}, PauseReason: b.PauseReason}
	if !b.StartedAt.IsZero() {
		out.ExecutionStart, out.Mode = b.StartedAt.UnixMilli(), string(b.Mode)
	}
	if !b.FinishedAt.IsZero() {
		out.ExecutionFinish = b.FinishedAt.UnixMilli()
	}
	for _, c := range b.StatusCounts() {
		out.OperationStatusCounts = append(out.OperationStatusCounts, bulkOpCountJSON{Status: string(c.Status), Count: c.Count})
	}
	return out
}

var (
	bulkStates   = []string{"SUBMITTED", "RUNNING", "PARTIALLY_COMPLETED", "COMPLETED", "FAILED", "PAUSED", "CANCELLED"}
	bulkOpStates = []string{"SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}
)

// bulkIDParam reads the bulk_id path parameter (Weavr BulkId, digits).
func bulkIDParam(r *request) (string, error) {
	id := r.PathValue("bulk_id")
	if !reDigits.MatchString(id) || len(id) > 20 {
		return "", core.Invalid("bulk_id", core.ReasonRegex, reDigits.String())
	}
	return id, nil
}

// bulks implements Weavr bulks.
func (s *Server) bulks(r *request) (reply, error) {
	q := r.URL.Query()
	var f fields
	offset := queryOffset(&f, q)
	limit := queryInt(&f, q, "limit", 100, 1, 100)
	state := q.Get("status")
	f.oneOf("status", state, bulkStates...)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	bs, count, err := s.svc.ListBulks(r.Context(), r.caller, core.BulkState(state), offset, limit)
	if err != nil {
		return reply{}, err
	}
	out := bulksJSON{Count: count, BulkProcesses: make([]bulkJSON, 0, len(bs)), ResponseCount: len(bs)}
	for _, b := range bs {
		out.BulkProcesses = append(out.BulkProcesses, bulkResponse(b))
	}
	return ok(out)
}

// bulkGet implements Weavr bulkId.
func (s *Server) bulkGet(r *request) (reply, error) {
	id, err := bulkIDParam(r)
	if err != nil {
		return reply{}, err
	}
	b, err := s.svc.GetBulk(r.Context(), r.caller, id)
	if err != nil {
		return reply{}, err
	}
	return ok(bulkResponse(b))
}

// bulkOperations implements Weavr bulkIdOperations.
func (s *Server) bulkOperations(r *request) (reply, error) {
	id, err := bulkIDParam(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	var f fields
	filter := core.BulkOpFilter{
		Offset: queryOffset(&f, q),
		Limit:  queryInt(&f, q, "limit", 100, 1, 100),
		Seq:    querySequence(&f, q),
		Status: core.BulkOpStatus(q.Get("status")),
	}
	f.oneOf("status", string(filter.Status), bulkOpStates...)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	ops, count, err := s.svc.BulkOperations(r.Context(), r.caller, id, filter)
	if err != nil {
		return reply{}, err
	}
	out := bulkOpsJSON{Count: count, Operations: make([]bulkOpJSON, 0, len(ops)), ResponseCount: len(ops)}
	for _, op := range ops {
		j, err := bulkOpResponse(op)
		if err != nil {
			return reply{}, err
		}
		out.Operations = append(out.Operations, j)
	}
	return ok(out)
}

// bulkOpResponse is Weavr's BulkProcessOperation: the single call's path and
// body, and once settled its answer's body.
func bulkOpResponse(op *core.BulkOperation) (bulkOpJSON, error) {
	out := bulkOpJSON{OperationID: op.BulkID + "-" + strconv.Itoa(op.Seq), Sequence: op.Seq, Method: http.MethodPost,
		Status: string(op.Status)}
	var request, response any
	switch {
	case op.User != nil:
		out.Path, request = string(core.BulkUserCreate), userCreateBody(op.User)
	default:
		out.Path = strings.Replace(string(core.BulkUserInvite), "_user_id_", op.UserID, 1)
	}
	switch {
	case op.Error != nil:
		_, response = toHTTP(op.Error.Err())
	case op.Created != nil:
		response = userResponse(op.Created)
	}
	for _, p := range []struct {
		dst *string
		v   any
	}{{&out.RequestPayload, request}, {&out.ResponsePayload, response}} {
		b, err := marshalBody(p.v)
		if err != nil {
			return out, err
		}
		*p.dst = string(b)
	}
	return out, nil
}

// bulkExecute implements Weavr bulkIdExecute; its body may be left out.
func (s *Server) bulkExecute(r *request) (reply, error) {
	id, err := bulkIDParam(r)
	if err != nil {
		return reply{}, err
	}
	var in bulkExecuteRequest
	if strings.TrimSpace(string(r.body)) != "" {
		if err := decodeJSON(r.body, &in); err != nil {
			return reply{}, err
		}
	}
	var f fields
	f.oneOf("mode", in.Mode, string(core.BulkContinue), string(core.BulkStop))
	if in.WebhookInterval != nil && *in.WebhookInterval < 0 {
		f.add("webhookInterval", core.ReasonAtLeast, "0")
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.ExecuteBulk(r.Context(), r.caller, id, core.BulkMode(in.Mode)); err != nil {
		return reply{}, err
	}
	return noContent()
}

// bulkMove serves Weavr bulkIdPause, bulkIdResume and bulkIdCancel with move.
func (s *Server) bulkMove(move func(ctx context.Context, c *core.Caller, id string) error) endpoint {
	return func(r *request) (reply, error) {
		id, err := bulkIDParam(r)
		if err != nil {
			return reply{}, err
		}
		if err := move(r.Context(), r.caller, id); err != nil {
			return reply{}, err
		}
		return noContent()
	}
}
