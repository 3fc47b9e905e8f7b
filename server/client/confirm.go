package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Confirmation challenges (Weavr multipleSCAChallenge, multipleSCAVerify,
// multipleSCAChallengePush). The embedder's backend, with the secret key,
// registers each operation a user must confirm ([Client.RegisterResource])
// and reads its state ([Client.Resource]); the user's client asks for a
// challenge over a list of them ([Session.ConfirmSMS], [Session.ConfirmPush])
// and verifies the texted code ([Session.VerifyConfirmSMS]) or has the
// companion approve the push challenge ([Session.ApprovePush]).

// Resource types (Weavr MultipleSCAResourceType) and states.
const (
	ResourceSends                      = "sends"
	ResourceOutgoingWireTransfers      = "outgoing_wire_transfers"
	ResourceLinkedAccountDeclaration   = "linked_account_declaration"
	ResourceCorrespondentBankTransfers = "correspondent_bank_transfers"

	ResourcePending  = "PENDING_CHALLENGE"
	ResourceVerified = "VERIFIED"

	// PushKindConfirm is a push challenge confirming resources; its Summary
	// lists each one's amount and payee.
	PushKindConfirm = "CONFIRM"
)

// Amount is a sum in minor units (Weavr CurrencyAmount).
type Amount struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// ResourceRegistration is what the embedder registers about an operation:
// who confirms it and what they see.
type ResourceRegistration struct {
	UserID       string            `json:"userId"`
	Amount       Amount            `json:"amount"`
	PayeeName    string            `json:"payeeName"`
	PayeeAccount string            `json:"payeeAccount"`
	Fields       map[string]string `json:"fields,omitempty"`
}

// Resource is a registered operation and its state.
type Resource struct {
	ResourceType string
	ID           string
	ResourceRegistration
	State          string // ResourcePending or ResourceVerified
	SCAChallengeID string // the challenge that last challenged it
	CreatedAt      time.Time
	VerifiedAt     time.Time // zero until verified
}

type resourceJSON struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	ResourceRegistration
	State             string `json:"state"`
	SCAChallengeID    string `json:"scaChallengeId"`
	CreationTimestamp int64  `json:"creationTimestamp"`
	VerifiedTimestamp int64  `json:"verifiedTimestamp"`
}

// UnmarshalJSON reads the API's form, with times in Unix milliseconds.
func (r *Resource) UnmarshalJSON(b []byte) error {
	var j resourceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Resource{ResourceType: j.ResourceType, ID: j.ID, ResourceRegistration: j.ResourceRegistration, State: j.State,
		SCAChallengeID: j.SCAChallengeID, CreatedAt: millis(j.CreationTimestamp)}
	if j.VerifiedTimestamp != 0 {
		r.VerifiedAt = millis(j.VerifiedTimestamp)
	}
	return nil
}

// ConfirmationPush is a started push confirmation: its id and the number
// the requesting client shows the user, who picks it on the device.
type ConfirmationPush struct {
	SCAChallengeID string `json:"scaChallengeId"`
	Number         int    `json:"number"`
}

func resourcePath(op, resourceType, id string) (string, error) {
	t, err := pathID("resource_type", resourceType)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	i, err := pathID("resource_id", id)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return "/multi/challenges/resources/" + t + "/" + i, nil
}

// RegisterResource registers an operation of the embedder's for
// confirmation, or replaces the summary of one still pending (Deputy
// extension; secret key). A verified one is [ErrConflict] STATE_INVALID.
func (c *Client) RegisterResource(ctx context.Context, resourceType, id string, in ResourceRegistration) (*Resource, error) {
	const op = "register resource"
	path, err := resourcePath(op, resourceType, id)
	if err != nil {
		return nil, err
	}
	var out Resource
	if err := c.do(ctx, &call{op: op, method: http.MethodPost, path: path, in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Resource reads a registered operation and its state (Deputy extension; secret key).
func (c *Client) Resource(ctx context.Context, resourceType, id string) (*Resource, error) {
	const op = "read resource"
	path, err := resourcePath(op, resourceType, id)
	if err != nil {
		return nil, err
	}
	var out Resource
	if err := c.do(ctx, &call{op: op, method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

type confirmRequest struct {
	ResourceType string   `json:"resourceType"`
	ResourceIDs  []string `json:"resourceIds"`
}

// ConfirmSMS texts the user a code confirming the listed resources, naming
// each one's amount and payee, and returns the challenge's id (Weavr
// multipleSCAChallenge). Accepts [IdempotencyRef].
func (s *Session) ConfirmSMS(ctx context.Context, resourceType string, ids []string, opts ...CallOption) (string, error) {
	var out struct {
		ID string `json:"scaChallengeId"`
	}
	err := s.do(ctx, &call{op: "start SMS confirmation", method: http.MethodPost, path: "/multi/challenges/otp/SMS",
		in: confirmRequest{resourceType, ids}, out: &out}, opts...)
	return out.ID, err
}

// VerifyConfirmSMS confirms the challenge's resources with the texted code
// (Weavr multipleSCAVerify): they all become VERIFIED, unless one changed
// since the challenge ([ErrConflict] STATE_INVALID). Accepts [IdempotencyRef].
func (s *Session) VerifyConfirmSMS(ctx context.Context, challengeID, resourceType, code string, opts ...CallOption) error {
	const op = "verify SMS confirmation"
	id, err := pathID("scaChallengeId", challengeID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	in := struct {
		VerificationCode string `json:"verificationCode"`
		ResourceType     string `json:"resourceType"`
	}{code, resourceType}
	return s.do(ctx, &call{op: op, method: http.MethodPost, path: "/multi/challenges/" + id + "/otp/SMS/verify", in: in}, opts...)
}

// ConfirmPush asks the user's companion device to confirm the listed
// resources (Weavr multipleSCAChallengePush); approving it there verifies
// them. Accepts [IdempotencyRef].
func (s *Session) ConfirmPush(ctx context.Context, resourceType string, ids []string, opts ...CallOption) (*ConfirmationPush, error) {
	var out ConfirmationPush
	if err := s.do(ctx, &call{op: "start push confirmation", method: http.MethodPost, path: "/multi/challenges/push/" + ChannelBiometric,
		in: confirmRequest{resourceType, ids}, out: &out}, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}
