package server

import (
	"maps"
	"regexp"
	"slices"
	"strconv"

	"github.com/deputyhq/deputy/core"
)

// Confirmation challenges (Weavr multipleSCAChallenge, multipleSCAVerify,
// multipleSCAChallengePush) and the Deputy extensions with which the
// embedder's backend registers the resources they confirm and reads their
// state (core/confirm.go).

// confirmRoutes registers the confirmation endpoints; routes calls it.
func (s *Server) confirmRoutes() {
	s.handle("POST /multi/challenges/otp/{channel}", userToken, true, s.multipleSCAChallenge)
	s.handle("POST /multi/challenges/{scaChallengeId}/otp/{channel}/verify", userToken, true, s.multipleSCAVerify)
	s.handle("POST /multi/challenges/push/{channel}", userToken, true, s.multipleSCAChallengePush)
	s.handle("POST /multi/challenges/resources/{resource_type}/{resource_id}", secretKey, false, s.resourceRegister)
	s.handle("GET /multi/challenges/resources/{resource_type}/{resource_id}", secretKey, false, s.resourceGet)
}

type (
	// multipleSCAChallengeRequest is Weavr's MultipleSCAChallengeRequest.
	multipleSCAChallengeRequest struct {
		ResourceType string   `json:"resourceType"`
		ResourceIDs  []string `json:"resourceIds"`
	}
	// multipleSCAVerifyRequest is Weavr's MultipleSCAVerifyRequest.
	multipleSCAVerifyRequest struct {
		VerificationCode string `json:"verificationCode"`
		ResourceType     string `json:"resourceType"`
	}
	// scaChallengeResponse is Weavr's SCAChallengeResponse; a push one adds
	// the number the requesting client shows (as stepupSCAChallengePush does).
	scaChallengeResponse struct {
		SCAChallengeID string `json:"scaChallengeId"`
		Number         int    `json:"number,omitempty"`
	}
	amountJSON struct {
		Currency string `json:"currency"`
		Amount   *int64 `json:"amount"`
	}
	resourceRequest struct {
		UserID       string            `json:"userId"`
		Amount       *amountJSON       `json:"amount"`
		PayeeName    string            `json:"payeeName"`
		PayeeAccount string            `json:"payeeAccount"`
		Fields       map[string]string `json:"fields,omitempty"`
	}
	resourceJSON struct {
		ResourceType      string            `json:"resourceType"`
		ID                string            `json:"id"`
		UserID            string            `json:"userId"`
		Amount            amountJSON        `json:"amount"`
		PayeeName         string            `json:"payeeName"`
		PayeeAccount      string            `json:"payeeAccount"`
		Fields            map[string]string `json:"fields,omitempty"`
		State             string            `json:"state"`
		SCAChallengeID    string            `json:"scaChallengeId,omitempty"`
		CreationTimestamp int64             `json:"creationTimestamp"`
		VerifiedTimestamp int64             `json:"verifiedTimestamp,omitempty"`
	}
)

var (
	reFieldName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)
	reResourceID = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// confirmList decodes and checks a MultipleSCAChallengeRequest.
func confirmList(r *request) (core.ResourceType, []string, error) {
	var in multipleSCAChallengeRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return "", nil, err
	}
	var f fields
	if f.required("resourceType", in.ResourceType) {
		f.oneOf("resourceType", in.ResourceType, r.prog.Settings.ResourceTypeNames()...)
	}
	switch {
	case in.ResourceIDs == nil:
		f.add("resourceIds", core.ReasonRequired)
	case len(in.ResourceIDs) == 0 || len(in.ResourceIDs) > core.MaxConfirmResources:
		f.add("resourceIds", core.ReasonSize, "1", strconv.Itoa(core.MaxConfirmResources))
	}
	for i, id := range in.ResourceIDs {
		if i < core.MaxConfirmResources && !reResourceID.MatchString(id) {
			f.add("resourceIds["+strconv.Itoa(i)+"]", core.ReasonRegex, reResourceID.String())
		}
	}
	return core.ResourceType(in.ResourceType), in.ResourceIDs, f.err()
}

// multipleSCAChallenge implements Weavr multipleSCAChallenge (SMS).
func (s *Server) multipleSCAChallenge(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	t, ids, err := confirmList(r)
	if err != nil {
		return reply{}, err
	}
	id, err := s.svc.ConfirmSMS(answering(r, smsConfirmIssued), r.caller, t, ids)
	if err != nil {
		return reply{}, err
	}
	return smsConfirmIssued(id)
}

func smsConfirmIssued(id string) (reply, error) { return ok(scaChallengeResponse{SCAChallengeID: id}) }

// multipleSCAChallengePush implements Weavr multipleSCAChallengePush:
// BIOMETRIC, or AUTHY as another name for it (the companion is Deputy's
// push channel).
func (s *Server) multipleSCAChallengePush(r *request) (reply, error) {
	switch ch := r.PathValue("channel"); ch {
	case string(core.ChannelBiometric), "AUTHY":
	default:
		return reply{}, core.Invalid("channel", core.ReasonIn, string(core.ChannelBiometric), "AUTHY")
	}
	t, ids, err := confirmList(r)
	if err != nil {
		return reply{}, err
	}
	ch, err := s.svc.ConfirmPush(answering(r, pushConfirmIssued), r.caller, t, ids)
	if err != nil {
		return reply{}, err
	}
	return pushConfirmIssued(ch)
}

func pushConfirmIssued(ch *core.PushChallenge) (reply, error) {
	return ok(scaChallengeResponse{SCAChallengeID: ch.ID, Number: ch.Number})
}

// multipleSCAVerify implements Weavr multipleSCAVerify.
func (s *Server) multipleSCAVerify(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	id := r.PathValue("scaChallengeId")
	if !reResourceID.MatchString(id) {
		return reply{}, core.Invalid("scaChallengeId", core.ReasonRegex, reResourceID.String())
	}
	var in multipleSCAVerifyRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.nonce("verificationCode", in.VerificationCode)
	if f.required("resourceType", in.ResourceType) {
		f.oneOf("resourceType", in.ResourceType, r.prog.Settings.ResourceTypeNames()...)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.VerifyConfirmSMS(answering(r, noResult), r.caller, id, core.ResourceType(in.ResourceType), in.VerificationCode); err != nil {
		return reply{}, err
	}
	return noContent()
}

// resourcePath reads and checks {resource_type} and {resource_id}.
func resourcePath(r *request) (core.ResourceType, string, error) {
	var f fields
	t, id := r.PathValue("resource_type"), r.PathValue("resource_id")
	f.oneOf("resource_type", t, r.prog.Settings.ResourceTypeNames()...)
	if !reResourceID.MatchString(id) {
		f.add("resource_id", core.ReasonRegex, reResourceID.String())
	}
	return core.ResourceType(t), id, f.err()
}

// resourceRegister registers a resource for confirmation, or replaces the
// summary of a pending one (Deputy extension).
func (s *Server) resourceRegister(r *request) (reply, error) {
	t, id, err := resourcePath(r)
	if err != nil {
		return reply{}, err
	}
	var in resourceRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("userId", in.UserID) {
		f.pattern("userId", in.UserID, reResourceID)
	}
	if in.Amount == nil {
		f.add("amount", core.ReasonRequired)
	} else {
		if f.required("amount.currency", in.Amount.Currency) {
			f.pattern("amount.currency", in.Amount.Currency, reCurrency)
		}
		switch {
		case in.Amount.Amount == nil:
			f.add("amount.amount", core.ReasonRequired)
		case *in.Amount.Amount < 0:
			f.add("amount.amount", core.ReasonAtLeast, "0")
		}
	}
	f.text("payeeName", in.PayeeName, 1, core.MaxPayeeLen)
	f.text("payeeAccount", in.PayeeAccount, 1, core.MaxPayeeLen)
	if len(in.Fields) > core.MaxResourceFields {
		f.add("fields", core.ReasonAtMost, strconv.Itoa(core.MaxResourceFields))
	}
	for _, k := range slices.Sorted(maps.Keys(in.Fields)) {
		if !reFieldName.MatchString(k) {
			f.add("fields."+k, core.ReasonRegex, reFieldName.String())
			continue
		}
		f.text("fields."+k, in.Fields[k], 1, core.MaxResourceFieldLen)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	res, err := s.svc.PutResource(r.Context(), r.prog, core.NewResource{Type: t, ID: id, UserID: in.UserID, Summary: core.ResourceSummary{
		Amount:    core.Amount{Currency: in.Amount.Currency, Value: *in.Amount.Amount},
		PayeeName: in.PayeeName, PayeeAccount: in.PayeeAccount, Fields: in.Fields,
	}})
	if err != nil {
		return reply{}, err
	}
	return ok(resourceResponse(res))
}

// resourceGet reads a resource and its state (Deputy extension).
func (s *Server) resourceGet(r *request) (reply, error) {
	t, id, err := resourcePath(r)
	if err != nil {
		return reply{}, err
	}
	res, err := s.svc.Resource(r.Context(), r.prog, t, id)
	if err != nil {
		return reply{}, err
	}
	return ok(resourceResponse(res))
}

func resourceResponse(res *core.Resource) resourceJSON {
	amount := res.Summary.Amount.Value
	out := resourceJSON{
		ResourceType: string(res.Type), ID: res.ID, UserID: res.UserID,
		Amount:    amountJSON{Currency: res.Summary.Amount.Currency, Amount: &amount},
		PayeeName: res.Summary.PayeeName, PayeeAccount: res.Summary.PayeeAccount, Fields: res.Summary.Fields,
		State: string(res.State), SCAChallengeID: res.ChallengeID, CreationTimestamp: res.CreatedAt.UnixMilli(),
	}
	if !res.VerifiedAt.IsZero() {
		out.VerifiedTimestamp = res.VerifiedAt.UnixMilli()
	}
	return out
}
