package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The biometric channel and push step-up. The companion app enrols a WebAuthn
// credential ([Session.BeginBiometricEnrolment], [Session.FinishBiometricEnrolment]),
// receives push challenges ([Session.PushEvents], [Session.PendingPush]) and
// approves them by signing options derived from the operation's summary
// ([Session.PushOptions], [Session.ApprovePush]). A requesting client starts a
// challenge ([Session.StepUpPush], [Client.LoginViaBiometrics]), shows its
// Number and follows the outcome ([Session.PushStatus], [Session.PushEvents]).
// WebAuthn payloads travel as JSON: the options the server sends are returned
// as [json.RawMessage], and the credential arguments are any value that
// marshals to the authenticator's RegistrationResponseJSON or
// AuthenticationResponseJSON (package mobile/authenticator's Attestation and
// Assertion do).

// ChannelBiometric is the push channel of the companion app (Weavr SCAPushChannel).
const ChannelBiometric = "BIOMETRIC"

// Push challenge kinds and states (Deputy PushChallenge).
const (
	PushKindStepUp = "STEP_UP"
	PushKindLogin  = "LOGIN"

	PushPending   = "PENDING"
	PushApproved  = "APPROVED"
	PushDeclined  = "DECLINED"
	PushCancelled = "CANCELLED"
	PushExpired   = "EXPIRED"
)

// Reasons for declining a push challenge on the device.
const (
	// DeclineNotMe is "I did not do this": the user's sessions all end and a
	// security event is recorded.
	DeclineNotMe = "NOT_ME"
	// DeclineCancelled dismisses the challenge.
	DeclineCancelled = "CANCELLED"
)

// PushChallenge is a challenge as the device sees it: what is being approved
// and the three numbers to pick from (one of them is shown by the requesting
// client).
type PushChallenge struct {
	ID        string
	Kind      string // PushKindStepUp, PushKindLogin or PushKindConfirm
	Summary   string
	Choices   []int
	CreatedAt time.Time
	ExpiresAt time.Time
	// FromIP and FromAgent are who asked for it, as the server saw the
	// request (its address and User-Agent; "" when unknown): show them, so
	// that the user can tell their own request from someone else's.
	FromIP, FromAgent string
	// SummaryFromRequester: Summary is the requesting client's own words,
	// which the server did not check (a step-up that named no operation);
	// show it as such. Otherwise the server wrote it.
	SummaryFromRequester bool
}

type pushChallengeJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Summary   string `json:"summary"`
	Choices   []int  `json:"choices"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt"`
	From      struct {
		IP        string `json:"ip"`
		UserAgent string `json:"userAgent"`
	} `json:"requestedFrom"`
	SummaryFromRequester bool `json:"summaryFromRequester"`
}

// UnmarshalJSON reads the API's form, with times in Unix milliseconds.
func (p *PushChallenge) UnmarshalJSON(b []byte) error {
	var j pushChallengeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = PushChallenge{ID: j.ID, Kind: j.Kind, Summary: j.Summary, Choices: j.Choices, CreatedAt: millis(j.CreatedAt), ExpiresAt: millis(j.ExpiresAt),
		FromIP: j.From.IP, FromAgent: j.From.UserAgent, SummaryFromRequester: j.SummaryFromRequester}
	return nil
}

// PushStepUp is a started push step-up: its id and the number the requesting
// client shows the user, who picks it on the device.
type PushStepUp struct {
	ID     string
	Number int
	Device DeviceReach
}

// DeviceReach says whether the user's phone can be told of a push
// challenge now (Deputy extension): it holds the event stream or long poll
// of the server or of another replica on its database, or did moments ago.
// LastSeen is when it was last connected (zero: not since the server
// started). When it is not reachable, offer
// another factor at once.
type DeviceReach struct {
	Reachable bool
	LastSeen  time.Time
}

// deviceJSON is DeviceReach on the wire.
type deviceJSON struct {
	DeviceReachable bool  `json:"deviceReachable"`
	DeviceLastSeen  int64 `json:"deviceLastSeen"`
}

func (d deviceJSON) reach() DeviceReach {
	out := DeviceReach{Reachable: d.DeviceReachable}
	if d.DeviceLastSeen != 0 {
		out.LastSeen = millis(d.DeviceLastSeen)
	}
	return out
}

// PushStatus is where a push challenge stands, for the session that requested it.
type PushStatus struct {
	ID        string
	State     string // PushPending, PushApproved, PushDeclined, PushCancelled or PushExpired
	Summary   string
	ExpiresAt time.Time
	Device    DeviceReach
}

// BiometricLogin is a started biometric sign-in: the challenge id, the number
// to show, and the secret that collects the token ([Client.BiometricLoginToken]).
// The secret is sensitive: never log it.
type BiometricLogin struct {
	ChallengeID string `json:"challengeId"`
	Number      int    `json:"number"`
	Secret      string `json:"secret"`
}

const pushFactorPath = "/multi/authentication_factors/push/" + ChannelBiometric

// BeginBiometricEnrolment starts enrolling this device for the biometric
// channel: an SMS code is texted to the user's mobile, and the answer is the
// WebAuthn PublicKeyCredentialCreationOptions for the device's authenticator
// (Deputy's open form of Weavr enrolDeviceUsingPush). A programme without
// biometrics is [ErrConflict] CHANNEL_NOT_SUPPORTED. Accepts [IdempotencyRef].
func (s *Session) BeginBiometricEnrolment(ctx context.Context, deviceID, deviceName string, opts ...CallOption) (json.RawMessage, error) {
	in := struct {
		DeviceID   string `json:"deviceId"`
		DeviceName string `json:"deviceName"`
	}{deviceID, deviceName}
	var out json.RawMessage
	if err := s.do(ctx, &call{op: "begin biometric enrolment", method: http.MethodPost, path: pushFactorPath + "/begin", in: in, out: &out}, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// DeviceSecretHeader carries a companion device's secret ([Session.WithDeviceSecret]).
const DeviceSecretHeader = "device-secret"

// FinishBiometricEnrolment completes the enrolment with the texted code and
// the authenticator's registration response. The biometric factor becomes
// active (SMS too, if it was not), replacing any previous device, which learns
// it was unlinked; the session is stepped up and speaks for the device. It
// returns the device's secret, shown once: keep it with the credential, and
// give it to every later session of the device ([Session.WithDeviceSecret]).
// Accepts [IdempotencyRef].
func (s *Session) FinishBiometricEnrolment(ctx context.Context, code string, credential any, opts ...CallOption) (string, error) {
	in := struct {
		VerificationCode string `json:"verificationCode"`
		Credential       any    `json:"credential"`
	}{code, credential}
	var out struct {
		DeviceSecret string `json:"deviceSecret"`
	}
	err := s.do(ctx, &call{op: "finish biometric enrolment", method: http.MethodPost, path: pushFactorPath + "/finish", in: in, out: &out}, opts...)
	return out.DeviceSecret, err
}

// UnlinkBiometric unlinks the user's companion device (Weavr
// unlinkDeviceUsingPush). It needs a stepped-up session ([ErrStepUpRequired]).
// Accepts [IdempotencyRef].
func (s *Session) UnlinkBiometric(ctx context.Context, opts ...CallOption) error {
	return s.do(ctx, &call{op: "unlink biometric device", method: http.MethodDelete, path: pushFactorPath}, opts...)
}

// StepUpPush asks the user's companion device to approve stepping this
// session up (Weavr stepupSCAChallengePush). summary says what is being
// approved ("" for the server's default); show the returned Number to the
// user. Without an enrolled device it is [ErrConflict] CHANNEL_NOT_REGISTERED.
// Accepts [IdempotencyRef] and [ForOperation], with which the phone shows
// the operation's summary (not summary) and the approval authorises it alone.
func (s *Session) StepUpPush(ctx context.Context, summary string, opts ...CallOption) (*PushStepUp, error) {
	var out struct {
		ID     string `json:"id"`
		Number int    `json:"number"`
		deviceJSON
	}
	r := &call{op: "start push step-up", method: http.MethodPost, path: "/multi/stepup/challenges/push/" + ChannelBiometric, out: &out}
	for _, o := range opts {
		o(r)
	}
	switch {
	case r.operation != "":
		r.in = struct {
			Operation string `json:"operation"`
		}{r.operation}
	case summary != "":
		r.in = struct {
			Summary string `json:"summary"`
		}{summary}
	}
	if err := s.do(ctx, r); err != nil {
		return nil, err
	}
	return &PushStepUp{ID: out.ID, Number: out.Number, Device: out.reach()}, nil
}

// PushStatus returns the state of a push challenge this session requested.
func (s *Session) PushStatus(ctx context.Context, id string) (*PushStatus, error) {
	return s.PushStatusWait(ctx, id, 0)
}

// PushStatusWait is PushStatus that, while the challenge is pending, waits
// up to wait (at most 25s) for it to be answered, so that an
// approval is seen as it happens instead of at the next poll.
func (s *Session) PushStatusWait(ctx context.Context, id string, wait time.Duration) (*PushStatus, error) {
	const op = "get push challenge"
	seg, err := pathID("id", id)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	}
	var out struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Summary   string `json:"summary"`
		ExpiresAt int64  `json:"expiresAt"`
		deviceJSON
	}
	if err := s.do(ctx, &call{op: op, method: http.MethodGet, path: "/multi/stepup/challenges/push/" + ChannelBiometric + "/" + seg, query: q, out: &out}); err != nil {
		return nil, err
	}
	return &PushStatus{ID: out.ID, State: out.State, Summary: out.Summary, ExpiresAt: millis(out.ExpiresAt), Device: out.reach()}, nil
}

// PendingPush returns the challenges awaiting the device, oldest first. When
// there are none it waits up to wait (at most 25s) for one. With a deviceID,
// a device that is no longer the linked one gets [ErrConflict]
// CHANNEL_NOT_REGISTERED.
func (s *Session) PendingPush(ctx context.Context, deviceID string, wait time.Duration) ([]PushChallenge, error) {
	q := url.Values{}
	if deviceID != "" {
		q.Set("deviceId", deviceID)
	}
	if wait > 0 {
		q.Set("wait", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	}
	var out struct {
		Challenges []PushChallenge `json:"challenges"`
	}
	if err := s.do(ctx, &call{op: "list pending push challenges", method: http.MethodGet, path: "/multi/push/pending", query: q, out: &out}); err != nil {
		return nil, err
	}
	return out.Challenges, nil
}

// challengePath returns "/multi/push/challenges/{id}" plus suffix.
func challengePath(id, suffix string) (string, error) {
	seg, err := pathID("id", id)
	if err != nil {
		return "", err
	}
	return "/multi/push/challenges/" + seg + suffix, nil
}

// PushOptions returns the WebAuthn PublicKeyCredentialRequestOptions with
// which the device approves challenge id. A challenge that is no longer
// pending is [ErrConflict] (ALREADY_VERIFIED, VERIFICATION_CODE_EXPIRED,
// STATE_INVALID).
func (s *Session) PushOptions(ctx context.Context, id string) (json.RawMessage, error) {
	path, err := challengePath(id, "/options")
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	if err := s.do(ctx, &call{op: "get push options", method: http.MethodPost, path: path, out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}

// ApprovePush approves challenge id with the number the user picked and the
// authenticator's assertion over [Session.PushOptions]. Refusals are
// [ErrConflict] with a code naming the reason: VERIFICATION_CODE_INVALID (wrong
// number: the challenge is declined), ALREADY_VERIFIED,
// VERIFICATION_CODE_EXPIRED, CHANNEL_NOT_REGISTERED (an unlinked device) or
// one of the WEBAUTHN_* codes.
func (s *Session) ApprovePush(ctx context.Context, id string, number int, credential any) error {
	path, err := challengePath(id, "/approve")
	if err != nil {
		return err
	}
	in := struct {
		Number     int `json:"number"`
		Credential any `json:"credential"`
	}{number, credential}
	return s.do(ctx, &call{op: "approve push challenge", method: http.MethodPost, path: path, in: in})
}

// DeclinePush declines challenge id with reason [DeclineCancelled] or
// [DeclineNotMe]; the latter ends every session of the user, this one too.
func (s *Session) DeclinePush(ctx context.Context, id, reason string) error {
	path, err := challengePath(id, "/decline")
	if err != nil {
		return err
	}
	in := struct {
		Reason string `json:"reason"`
	}{reason}
	return s.do(ctx, &call{op: "decline push challenge", method: http.MethodPost, path: path, in: in})
}

// Push platforms of [Session.RegisterPushToken] (core.PushPlatform).
const (
	PushPlatformFCM  = "FCM"  // Firebase Cloud Messaging: an FCM registration token
	PushPlatformAPNs = "APNS" // Apple Push Notification service: a device token, in hex
)

// RegisterPushToken gives the server the push token the platform gave the
// companion on the linked device deviceID (Deputy extension PUT
// /multi/push/token), replacing the one it had, so that a sleeping companion
// is woken when a challenge arrives. The push carries ids only: the
// companion reads the challenge itself.
func (s *Session) RegisterPushToken(ctx context.Context, deviceID, platform, token string) error {
	in := struct {
		DeviceID string `json:"deviceId"`
		Platform string `json:"platform"`
		Token    string `json:"token"`
	}{deviceID, platform, token}
	return s.do(ctx, &call{op: "register push token", method: http.MethodPut, path: "/multi/push/token", in: in})
}

// LoginViaBiometrics starts a biometric sign-in for email (Weavr
// loginViaBiometrics): the user's companion device is asked to approve it.
// Show Number to the user, then collect the token with
// [Client.BiometricLoginToken]. Every well-formed email gets an answer, also
// one without an account or device (its challenge is never approved).
func (c *Client) LoginViaBiometrics(ctx context.Context, email string) (*BiometricLogin, error) {
	in := emailRequest{Email: email}
	var out BiometricLogin
	if err := c.do(ctx, &call{op: "login via biometrics", method: http.MethodPost, path: "/multi/login_via_biometrics", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// BiometricLoginToken collects the stepped-up session of an approved
// biometric sign-in, once. While it waits for approval the answer is
// [ErrConflict] STATE_INVALID with a RetryAfter of a second; declined is
// STATE_INVALID without one, expired VERIFICATION_CODE_EXPIRED.
func (c *Client) BiometricLoginToken(ctx context.Context, challengeID, secret string) (*Login, error) {
	seg, err := pathID("challengeId", challengeID)
	if err != nil {
		return nil, err
	}
	in := struct {
		Secret string `json:"secret"`
	}{secret}
	var out Login
	if err := c.do(ctx, &call{op: "collect biometric sign-in", method: http.MethodPost, path: "/multi/login_via_biometrics/" + seg + "/token", in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
