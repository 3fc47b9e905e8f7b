package server

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/deputyhq/deputy/core"
)

// The biometric channel and push step-up (Weavr enrolDeviceUsingPush,
// unlinkDeviceUsingPush, stepupSCAChallengePush, loginViaBiometrics), done in
// the open with WebAuthn: the companion app's authenticator registers a
// credential (begin/finish) and approves push challenges by signing a
// challenge derived from the operation's summary (PSD2 RTS Art. 5 dynamic
// linking). Challenges reach the companion over an event stream or a long
// poll (pushstream.go), so no third-party push service is needed.

// pushRoutes registers the biometric and push endpoints; routes calls it.
func (s *Server) pushRoutes() {
	s.handle("POST /multi/authentication_factors/push/{channel}", userToken, true, s.enrolDeviceUsingPush)
	s.handle("POST /multi/authentication_factors/push/{channel}/begin", userToken, true, s.biometricEnrolBegin)
	s.handle("POST /multi/authentication_factors/push/{channel}/finish", userToken, true, s.biometricEnrolFinish)
	s.handle("DELETE /multi/authentication_factors/push/{channel}", userToken, true, s.unlinkDeviceUsingPush)
	s.handle("POST /multi/stepup/challenges/push/{channel}", userToken, true, s.stepUpPush)
	s.handle("GET /multi/stepup/challenges/push/{channel}/{id}", userToken, false, s.stepUpPushGet)

	s.handleStream("GET /multi/push/stream", s.pushStream)
	s.handle("GET /multi/push/pending", userToken, false, s.pushPending)
	s.handle("POST /multi/push/challenges/{id}/options", userToken, false, s.pushOptions)
	s.handle("POST /multi/push/challenges/{id}/approve", userToken, false, s.pushApprove)
	s.handle("POST /multi/push/challenges/{id}/decline", userToken, false, s.pushDecline)
	s.handle("PUT /multi/push/token", userToken, false, s.pushTokenPut)

	s.handle("POST /multi/login_via_biometrics", eitherKey, false, s.loginViaBiometrics)
	s.handle("POST /multi/login_via_biometrics/{id}/token", eitherKey, false, s.loginViaBiometricsToken)
}

// Formats of the push endpoints' fields.
var (
	reDeviceID  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	reNoControl = regexp.MustCompile(`^[^\p{Cc}]*$`)
	reID        = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// pushChannel checks the {channel} of the push operations: BIOMETRIC is the one
// Deputy has; Weavr's AUTHY is CHANNEL_NOT_SUPPORTED.
func pushChannel(r *request) error {
	switch r.PathValue("channel") {
	case string(core.ChannelBiometric):
		return nil
	case "AUTHY":
		return core.Conflict(core.CodeChannelNotSupported)
	default:
		return core.Invalid("channel", core.ReasonIn, string(core.ChannelBiometric))
	}
}

// pathChallengeID checks the {id} of a push challenge.
func pathChallengeID(r *request) (string, error) {
	id := r.PathValue("id")
	if !reID.MatchString(id) {
		return "", core.Invalid("id", core.ReasonRegex, reID.String())
	}
	return id, nil
}

// rawObject checks that a JSON member is present and an object.
func (f *fields) rawObject(field string, v json.RawMessage) {
	t := bytes.TrimSpace(v)
	switch {
	case len(t) == 0 || bytes.Equal(t, []byte("null")):
		f.add(field, core.ReasonRequired)
	case t[0] != '{':
		f.add(field, core.ReasonIn, "object")
	}
}

// text checks a required free text of min..max characters without control characters.
func (f *fields) text(field, v string, min, max int) {
	if f.required(field, v) {
		f.size(field, v, min, max)
		f.pattern(field, v, reNoControl)
	}
}

// enrolDeviceUsingPush answers Weavr's enrolDeviceUsingPush: Deputy enrols the
// BIOMETRIC channel with the begin and finish steps instead, so this says the
// one-step form is not supported.
func (s *Server) enrolDeviceUsingPush(r *request) (reply, error) {
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	return reply{}, &core.Error{Class: core.ErrConflict, Code: core.CodeChannelNotSupported,
		Message: "enrol BIOMETRIC with /multi/authentication_factors/push/BIOMETRIC/begin and /finish"}
}

type biometricBeginRequest struct {
	DeviceID   string `json:"deviceId"`
	DeviceName string `json:"deviceName"`
}

// biometricEnrolBegin starts a biometric enrolment (Deputy's open form of
// enrolDeviceUsingPush): an SMS code goes to the user's mobile, and the answer
// is the WebAuthn PublicKeyCredentialCreationOptions (WebAuthn §5.4).
func (s *Server) biometricEnrolBegin(r *request) (reply, error) {
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	var in biometricBeginRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("deviceId", in.DeviceID) {
		f.pattern("deviceId", in.DeviceID, reDeviceID)
	}
	f.text("deviceName", in.DeviceName, 1, 100)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	options, err := s.svc.BeginBiometricEnrolment(answering(r, biometricBegun), r.caller, in.DeviceID, in.DeviceName)
	if err != nil {
		return reply{}, err
	}
	return biometricBegun(options)
}

// biometricBegun answers a biometric enrolment's begin step with the creation options.
func biometricBegun(options json.RawMessage) (reply, error) { return ok(options) }

type biometricFinishRequest struct {
	VerificationCode string          `json:"verificationCode"`
	Credential       json.RawMessage `json:"credential"`
}

// biometricEnrolFinish completes a biometric enrolment with the SMS code and
// the authenticator's RegistrationResponseJSON (WebAuthn §5.1.8).
func (s *Server) biometricEnrolFinish(r *request) (reply, error) {
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	var in biometricFinishRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("verificationCode", in.VerificationCode) {
		f.pattern("verificationCode", in.VerificationCode, reNonce)
	}
	f.rawObject("credential", in.Credential)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	out, err := s.svc.FinishBiometricEnrolment(answering(r, biometricFinished), r.caller, in.VerificationCode, in.Credential)
	if err != nil {
		return reply{}, err
	}
	return biometricFinished(out)
}

type biometricFinishResponse struct {
	DeviceSecret string `json:"deviceSecret"`
}

// biometricFinished answers a finished enrolment with the device's secret.
func biometricFinished(out *core.BiometricEnrolled) (reply, error) {
	return ok(biometricFinishResponse{DeviceSecret: out.DeviceSecret})
}

// unlinkDeviceUsingPush implements Weavr unlinkDeviceUsingPush. No AUTHY
// device is ever registered with Deputy, so unlinking one is
// CHANNEL_NOT_REGISTERED, one of the two conflicts Weavr declares here
// (CHANNEL_NOT_SUPPORTED, which the other push operations answer, is not).
func (s *Server) unlinkDeviceUsingPush(r *request) (reply, error) {
	if r.PathValue("channel") == "AUTHY" {
		return reply{}, core.Conflict(core.CodeChannelNotRegistered)
	}
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	if err := s.svc.UnlinkBiometric(answering(r, noResult), r.caller); err != nil {
		return reply{}, err
	}
	return noContent()
}

type stepUpPushRequest struct {
	Summary   string `json:"summary"`
	Operation string `json:"operation"` // see stepUpRequest; its summary is shown, never Summary
}

type stepUpPushResponse struct {
	ID     string `json:"id"`
	Number int    `json:"number"` // Deputy extension: the number the requesting client shows
	deviceJSON
}

// deviceJSON says whether the user's phone can be reached (Deputy
// extension, core.Reachability), so that a client offers another factor at
// once when it cannot.
type deviceJSON struct {
	DeviceReachable bool  `json:"deviceReachable"`
	DeviceLastSeen  int64 `json:"deviceLastSeen,omitempty"` // epoch ms; absent when never seen by this server
}

func deviceOut(r core.Reachability) deviceJSON {
	out := deviceJSON{DeviceReachable: r.Reachable}
	if !r.LastSeen.IsZero() {
		out.DeviceLastSeen = r.LastSeen.UnixMilli()
	}
	return out
}

// stepUpPush implements Weavr stepupSCAChallengePush, with Deputy's optional
// body {summary} naming the operation being approved, or {operation}, the
// reference a STEP_UP_REQUIRED answer gave.
func (s *Server) stepUpPush(r *request) (reply, error) {
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	var in stepUpPushRequest
	if len(bytes.TrimSpace(r.body)) > 0 {
		if err := decodeJSON(r.body, &in); err != nil {
			return reply{}, err
		}
		var f fields
		if in.Operation == "" {
			f.text("summary", in.Summary, 1, core.MaxPushSummaryLen)
		}
		f.size("operation", in.Operation, 1, maxOperationRef)
		if err := f.err(); err != nil {
			return reply{}, err
		}
	}
	// Read before the step-up: with an idempotency-ref, issued answers
	// inside its transaction, where reading the replicas' presence would
	// wait for a second pooled connection. The challenge goes to the
	// caller's own device.
	reach := deviceOut(s.svc.DeviceReachability(r.Context(), r.caller.User.ID))
	issued := func(ch *core.PushChallenge) (reply, error) {
		return ok(stepUpPushResponse{ID: ch.ID, Number: ch.Number, deviceJSON: reach})
	}
	ch, err := s.svc.StepUpPush(answering(r, issued), r.caller, in.Summary, in.Operation)
	if err != nil {
		return reply{}, err
	}
	return issued(ch)
}

type pushStatusJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Summary   string `json:"summary"`
	ExpiresAt int64  `json:"expiresAt"`
	deviceJSON
}

// stepUpPushGet lets the requesting session follow its push challenge
// (Deputy extension): at once, or with ?wait= seconds, when it is no longer
// pending or the wait ends, so that an approval is seen as it happens.
func (s *Server) stepUpPushGet(r *request) (reply, error) {
	if err := pushChannel(r); err != nil {
		return reply{}, err
	}
	id, err := pathChallengeID(r)
	if err != nil {
		return reply{}, err
	}
	wait, err := waitParam(r)
	if err != nil {
		return reply{}, err
	}
	var ch *core.PushChallenge
	err = s.longPoll(r, wait, func(ctx context.Context) (bool, error) { // the approver is the requesting user
		var err error
		ch, err = s.svc.PushStatus(ctx, r.caller, id)
		return err == nil && ch.State != core.PushPending, err
	})
	if err != nil {
		return reply{}, err
	}
	return ok(pushStatusJSON{ID: ch.ID, State: string(ch.State), Summary: ch.Summary, ExpiresAt: ch.ExpiresAt.UnixMilli(),
		deviceJSON: deviceOut(s.svc.DeviceReachability(r.Context(), ch.UserID))})
}

// pushChallengeJSON is a challenge as the device sees it: never the number.
type pushChallengeJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Summary   string    `json:"summary"`
	Choices   []int     `json:"choices"`
	CreatedAt int64     `json:"createdAt"`
	ExpiresAt int64     `json:"expiresAt"`
	From      *fromJSON `json:"requestedFrom,omitempty"`
	// SummaryFromRequester: the summary is the requesting client's own
	// words (core.PushChallenge.SummaryFromRequester).
	SummaryFromRequester bool `json:"summaryFromRequester,omitempty"`
}

// fromJSON is who asked for a challenge (core.Client): shown on the phone.
type fromJSON struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

func pushChallengeOut(c *core.PushChallenge) pushChallengeJSON {
	out := pushChallengeJSON{ID: c.ID, Kind: string(c.Kind), Summary: c.Summary, Choices: c.Choices,
		CreatedAt: c.CreatedAt.UnixMilli(), ExpiresAt: c.ExpiresAt.UnixMilli(), SummaryFromRequester: c.SummaryFromRequester()}
	if c.From != (core.Client{}) {
		out.From = &fromJSON{IP: c.From.IP, UserAgent: c.From.Agent}
	}
	return out
}

// pushOptions returns the WebAuthn PublicKeyCredentialRequestOptions (WebAuthn
// §5.5) with which the device approves a challenge.
func (s *Server) pushOptions(r *request) (reply, error) {
	id, err := pathChallengeID(r)
	if err != nil {
		return reply{}, err
	}
	options, err := s.svc.PushOptions(r.Context(), r.caller, id)
	if err != nil {
		return reply{}, err
	}
	return ok(options)
}

type pushApproveRequest struct {
	Number     *int            `json:"number"`
	Credential json.RawMessage `json:"credential"`
}

// pushApprove approves a challenge with the number the user picked and the
// authenticator's AuthenticationResponseJSON (WebAuthn §5.1.9).
func (s *Server) pushApprove(r *request) (reply, error) {
	id, err := pathChallengeID(r)
	if err != nil {
		return reply{}, err
	}
	var in pushApproveRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	switch {
	case in.Number == nil:
		f.add("number", core.ReasonRequired)
	case *in.Number < 10 || *in.Number > 99:
		f.add("number", core.ReasonRange, "10", "99")
	}
	f.rawObject("credential", in.Credential)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.ApprovePush(r.Context(), r.caller, id, *in.Number, in.Credential); err != nil {
		return reply{}, err
	}
	return noContent()
}

type pushDeclineRequest struct {
	Reason string `json:"reason"`
}

// pushDecline declines a challenge: CANCELLED, or NOT_ME ("I did not do this"),
// which also ends every session of the user.
func (s *Server) pushDecline(r *request) (reply, error) {
	id, err := pathChallengeID(r)
	if err != nil {
		return reply{}, err
	}
	var in pushDeclineRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("reason", in.Reason) {
		f.oneOf("reason", in.Reason, core.PushReasonNotMe, core.PushReasonCancelled)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.DeclinePush(r.Context(), r.caller, id, in.Reason); err != nil {
		return reply{}, err
	}
	return noContent()
}

type loginViaBiometricsRequest struct {
	Email    string          `json:"email"`
	Identity *identityIDJSON `json:"identity"`
}

type loginViaBiometricsResponse struct {
	ChallengeID string `json:"challengeId"`
	Number      int    `json:"number"` // Deputy extension: the number the signing-in client shows
	Secret      string `json:"secret"` // Deputy extension: collects the token (loginViaBiometricsToken)
}

// loginViaBiometrics implements Weavr loginViaBiometrics. Every well-formed
// email gets a challenge (a decoy when nobody can approve it), so the endpoint
// does not reveal accounts; see core.Service.LoginViaBiometrics.
func (s *Server) loginViaBiometrics(r *request) (reply, error) {
	var in loginViaBiometricsRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	f.email("email", in.Email)
	f.identityID("identity", in.Identity)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.CheckRate(r.Context(), core.RateLogin, r.prog, s.clientIP(r.Request)); err != nil {
		return reply{}, err
	}
	out, err := s.svc.LoginViaBiometrics(r.Context(), r.prog, in.Email, in.Identity.core())
	if err != nil {
		return reply{}, err
	}
	return ok(loginViaBiometricsResponse{ChallengeID: out.Challenge.ID, Number: out.Challenge.Number, Secret: out.Secret})
}

type biometricTokenRequest struct {
	Secret string `json:"secret"`
}

// loginViaBiometricsToken hands out the stepped-up token of an approved
// biometric sign-in, once (Deputy extension); pending is 409 STATE_INVALID
// with Retry-After.
func (s *Server) loginViaBiometricsToken(r *request) (reply, error) {
	id, err := pathChallengeID(r)
	if err != nil {
		return reply{}, err
	}
	var in biometricTokenRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("secret", in.Secret) {
		f.size("secret", in.Secret, 1, 100)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	out, err := s.svc.CollectBiometricLogin(r.Context(), r.prog, id, in.Secret)
	if err != nil {
		return reply{}, err
	}
	return ok(signedInResponse(out.Token, out.User))
}

// waitParam reads the long poll's wait query parameter: whole seconds, 0..25.
func waitParam(r *request) (int, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxPendingWait {
		return 0, core.Invalid("wait", core.ReasonRange, "0", strconv.Itoa(maxPendingWait))
	}
	return n, nil
}

// deviceParam reads the optional deviceId query parameter.
func deviceParam(r *request) (string, error) {
	v := r.URL.Query().Get("deviceId")
	if v != "" && !reDeviceID.MatchString(v) {
		return "", core.Invalid("deviceId", core.ReasonRegex, reDeviceID.String())
	}
	return v, nil
}
