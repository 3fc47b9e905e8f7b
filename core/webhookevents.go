package core

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The bodies of webhook events: Weavr's shapes (Weavr webhooks spec,
// LoginEvent, StepupEvent, EnrolmentEvent, IdentityDeactivatedEvent) for
// Weavr's events, and userEvent for Deputy's own (assets/openapi.yaml,
// webhooks). Deputy never puts a secret in an event: StepupEvent's optional
// authToken is left out, because the step-up steps up the session that asked
// for it, whose token the embedder holds already, and Deputy keeps only
// keyed hashes of tokens.

// typedID is Weavr's CredentialId and StringWrappedTypeId.
type typedID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type loginEvent struct {
	Credential         typedID  `json:"credential"`
	Identity           *typedID `json:"identity,omitempty"`
	Type               string   `json:"type"`
	Status             string   `json:"status"`
	PublishedTimestamp string   `json:"publishedTimestamp"`
}

type stepupEvent struct {
	Credential         typedID `json:"credential"`
	Identity           typedID `json:"identity"`
	ChallengeID        string  `json:"challengeId"`
	Type               string  `json:"type"`
	Status             string  `json:"status"`
	PublishedTimestamp string  `json:"publishedTimestamp"`
}

type enrolmentEvent struct {
	CredentialID       typedID `json:"credentialId"`
	Type               string  `json:"type"`
	Status             string  `json:"status"`
	PublishedTimestamp string  `json:"publishedTimestamp"`
}

type deactivatedEvent struct {
	ActionDoneBy string `json:"actionDoneBy"`
	EmailAddress string `json:"emailAddress"`
	ReasonCode   string `json:"reasonCode"`
}

// userEvent is the body of Deputy's own events.
type userEvent struct {
	Event              string            `json:"event"`
	Credential         typedID           `json:"credential"`
	Identity           typedID           `json:"identity"`
	Actor              string            `json:"actor"`
	Details            map[string]string `json:"details,omitempty"`
	PublishedTimestamp string            `json:"publishedTimestamp"`
}

// Statuses of Weavr's events.
const (
	statusVerified = "VERIFIED"
	statusDeclined = "DECLINED"
	statusExpired  = "EXPIRED"
	statusActive   = "ACTIVE"
	statusInactive = "INACTIVE"
)

func jsonBody(v any) (json.RawMessage, error) { return json.Marshal(v) }

// millis is Weavr's publishedTimestamp: Unix milliseconds, as a string.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// webhookSubject is who an audit event is about, for webhook events: its
// user, with the identity, or nil when it is about no user (an unknown email).
type webhookSubject struct {
	user     *User
	identity *Identity
}

func (w webhookSubject) credential() typedID {
	kind := "USER"
	if w.user.ID == w.user.IdentityID {
		kind = "ROOT"
	}
	return typedID{Type: kind, ID: w.user.ID}
}

func (w webhookSubject) identityID() typedID {
	return typedID{Type: string(w.identity.Type), ID: w.identity.ID}
}

// bulkEvent is Weavr's BulkProcessProgressEvent.
type bulkEvent struct {
	BulkID                string           `json:"bulkId"`
	Status                string           `json:"status"`
	SubmittedItemsCount   int              `json:"submittedItemsCount"`
	OperationStatusCounts []bulkCountEvent `json:"operationStatusCounts"`
}

type bulkCountEvent struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// bulkEndEvents is the bulk_process_end event of a bulk that ended (a
// bulk.end audit event, whose subject is the bulk), as it ended.
func bulkEndEvents(tx ReadTx, a *AuditEvent) ([]outEvent, error) {
	b, err := endedBulk(tx, a)
	if err != nil || b == nil {
		return nil, err
	}
	body := bulkEvent{BulkID: b.ID, Status: string(b.State), SubmittedItemsCount: b.Count, OperationStatusCounts: []bulkCountEvent{}}
	for _, c := range b.StatusCounts() {
		body.OperationStatusCounts = append(body.OperationStatusCounts, bulkCountEvent{Status: string(c.Status), Count: c.Count})
	}
	return []outEvent{{Type: EventBulkProcessEnd, Subject: b.ID, Body: body}}, nil
}

// endedBulk is the bulk a bulk.end audit event ended, from the counts the
// event recorded (settleBulkStep): by the time the event is fanned out the
// bulk may be gone (keepBulks). An event recorded without them is read from
// the bulk, or causes nothing when the bulk is gone.
func endedBulk(tx ReadTx, a *AuditEvent) (*Bulk, error) {
	count, err := strconv.Atoi(a.Details["count"])
	if err != nil {
		b, err := tx.Bulk(a.Subject)
		if errors.Is(err, ErrRecordNotFound) {
			return nil, nil
		}
		return b, err
	}
	b := &Bulk{ID: a.Subject, State: BulkState(a.Details["state"]), Count: count}
	if b.Completed, err = strconv.Atoi(a.Details["completed"]); err != nil {
		return nil, fmt.Errorf("bulk.end without its completed count: %w", err)
	}
	if b.Failed, err = strconv.Atoi(a.Details["failed"]); err != nil {
		return nil, fmt.Errorf("bulk.end without its failed count: %w", err)
	}
	return b, nil
}

// webhookEventsOf returns the webhook events an audit event causes.
func webhookEventsOf(tx ReadTx, a *AuditEvent) ([]outEvent, error) {
	if a.Action == "bulk.end" {
		return bulkEndEvents(tx, a)
	}
	build, ok := webhookBuilders[a.Action]
	if !ok || a.Subject == "" {
		return nil, nil
	}
	u, err := tx.User(a.Subject)
	if errors.Is(err, ErrRecordNotFound) {
		return nil, nil // not a user: a programme or an endpoint
	}
	if err != nil {
		return nil, err
	}
	i, err := tx.Identity(u.IdentityID)
	if err != nil {
		return nil, err
	}
	return build(a, webhookSubject{u, i}), nil
}

// webhookBuilders map audit actions to the webhook events they cause.
var webhookBuilders = map[string]func(a *AuditEvent, w webhookSubject) []outEvent{
	"user.login": func(a *AuditEvent, w webhookSubject) []outEvent {
		kind := "PASSWORD"
		if a.Details["method"] == "biometric" {
			kind = string(ChannelBiometric)
		}
		return []outEvent{w.login(a, kind, statusVerified)}
	},
	"login.failed":         declinedLogin,
	"login.refused_locked": declinedLogin,
	"login.ambiguous":      declinedLogin,
	"login.locked": func(a *AuditEvent, w webhookSubject) []outEvent {
		return []outEvent{w.login(a, "PASSWORD", statusDeclined), w.own(a, EventUserLocked)}
	},
	"challenge.verify": func(a *AuditEvent, w webhookSubject) []outEvent {
		switch ChallengePurpose(a.Details["purpose"]) {
		case PurposeStepUpSMS:
			return []outEvent{w.stepup(a, smsChallengeID(a), string(ChannelSMS), statusVerified)}
		case PurposeEnrolSMS:
			return []outEvent{w.enrolment(a, ChannelSMS, statusActive)}
		}
		return nil
	},
	"challenge.failed": func(a *AuditEvent, w webhookSubject) []outEvent {
		if ChallengePurpose(a.Details["purpose"]) != PurposeStepUpSMS || (a.Details["locked"] != "true" && a.Details["exhausted"] != "true") {
			return nil // a wrong code the user may still correct
		}
		return []outEvent{w.stepup(a, smsChallengeID(a), string(ChannelSMS), statusDeclined)}
	},
	"challenge.expire": func(a *AuditEvent, w webhookSubject) []outEvent {
		if ChallengePurpose(a.Details["purpose"]) != PurposeStepUpSMS {
			return nil
		}
		return []outEvent{w.stepup(a, smsChallengeID(a), string(ChannelSMS), statusExpired)}
	},
	"push.expire": func(a *AuditEvent, w webhookSubject) []outEvent {
		return w.pushOutcome(a, statusExpired)
	},
	"push.cancel": func(a *AuditEvent, w webhookSubject) []outEvent {
		return w.pushOutcome(a, statusDeclined) // a revocation: it can no longer pass
	},
	"push.approve": func(a *AuditEvent, w webhookSubject) []outEvent {
		if PushKind(a.Details["kind"]) != PushStepUp {
			return nil // a sign-in's event comes when its token is collected (user.login)
		}
		return []outEvent{w.stepup(a, a.Details["challenge"], string(ChannelBiometric), statusVerified)}
	},
	"push.decline": func(a *AuditEvent, w webhookSubject) []outEvent {
		return w.pushOutcome(a, statusDeclined)
	},
	"factor.enrol": func(a *AuditEvent, w webhookSubject) []outEvent {
		var evs []outEvent
		if a.Details["sms"] == string(FactorActive) { // a companion's enrolment proved the number
			evs = append(evs, w.enrolment(a, ChannelSMS, statusActive))
		}
		evs = append(evs, w.enrolment(a, Channel(a.Details["channel"]), statusActive))
		if a.Details["replaced"] != "" {
			evs = append(evs, w.own(a, EventDeviceReplaced))
		}
		return evs
	},
	"factor.unlink": func(a *AuditEvent, w webhookSubject) []outEvent {
		return []outEvent{w.enrolment(a, Channel(a.Details["channel"]), statusInactive)}
	},
	"user.device_reset": func(a *AuditEvent, w webhookSubject) []outEvent {
		var evs []outEvent
		for ch := range strings.SplitSeq(a.Details["factors"], ",") {
			if ch != "" {
				evs = append(evs, w.enrolment(a, Channel(ch), statusInactive))
			}
		}
		return append(evs, w.own(a, EventDeviceReset))
	},
	"user.deactivate": func(a *AuditEvent, w webhookSubject) []outEvent {
		by := "ADMIN"
		if a.Actor == ActorAPI {
			by = "INNOVATOR"
		}
		return []outEvent{{Type: EventUserDeactivated, Subject: w.user.ID,
			Body: deactivatedEvent{ActionDoneBy: by, EmailAddress: w.user.Email, ReasonCode: "UNDEFINED_REASON"}}}
	},
	"user.activate":       ownEvent(EventUserActivated),
	"user.create":         ownEvent(EventUserCreated),
	"user.invite_consume": ownEvent(EventInviteConsumed),
	"user.update": func(a *AuditEvent, w webhookSubject) []outEvent {
		evs := []outEvent{w.own(a, EventUserUpdated)}
		if _, ok := a.Details["roles"]; ok {
			evs = append(evs, w.own(a, EventRolesChanged))
		}
		return evs
	},
	"security.push_not_me":           ownEvent(EventSecurityAlert),
	"security.sign_count_regression": ownEvent(EventSecurityAlert),
	"confirmation.verify":            ownEvent(EventConfirmation),
	"confirmation.failed":            ownEvent(EventConfirmation),
}

// pushOutcome is the event of a push challenge that ended unapproved with
// status: a biometric sign-in's login or a step-up's stepup; a
// confirmation's comes from its confirmation.failed.
func (w webhookSubject) pushOutcome(a *AuditEvent, status string) []outEvent {
	switch PushKind(a.Details["kind"]) {
	case PushLogin:
		return []outEvent{w.login(a, string(ChannelBiometric), status)}
	case PushStepUp:
		return []outEvent{w.stepup(a, a.Details["challenge"], string(ChannelBiometric), status)}
	}
	return nil
}

func declinedLogin(a *AuditEvent, w webhookSubject) []outEvent {
	return []outEvent{w.login(a, "PASSWORD", statusDeclined)}
}

func ownEvent(name string) func(*AuditEvent, webhookSubject) []outEvent {
	return func(a *AuditEvent, w webhookSubject) []outEvent {
		return []outEvent{w.own(a, name)}
	}
}

func (w webhookSubject) login(a *AuditEvent, kind, status string) outEvent {
	id := w.identityID()
	return outEvent{Type: EventLogin, Subject: w.user.ID, Body: loginEvent{Credential: w.credential(), Identity: &id,
		Type: kind, Status: status, PublishedTimestamp: millis(a.At)}}
}

func (w webhookSubject) stepup(a *AuditEvent, challengeID, kind, status string) outEvent {
	return outEvent{Type: EventStepUp, Subject: w.user.ID, Body: stepupEvent{Credential: w.credential(), Identity: w.identityID(),
		ChallengeID: challengeID, Type: kind, Status: status, PublishedTimestamp: millis(a.At)}}
}

func (w webhookSubject) enrolment(a *AuditEvent, ch Channel, status string) outEvent {
	return outEvent{Type: EventAuthenticationFactors, Subject: w.user.ID, Body: enrolmentEvent{CredentialID: w.credential(),
		Type: string(ch), Status: status, PublishedTimestamp: millis(a.At)}}
}

func (w webhookSubject) own(a *AuditEvent, name string) outEvent {
	return outEvent{Type: name, Subject: w.user.ID, Body: userEvent{Event: name, Credential: w.credential(), Identity: w.identityID(),
		Actor: a.Actor, Details: a.Details, PublishedTimestamp: millis(a.At)}}
}

// smsChallengeID is the challengeId of an SMS step-up, which has no id of
// its own in Weavr's API (the challenge is the session's): a number derived
// from the audit event that settled it, its place in the programme's log,
// so that no two step-ups share one, however close in time, and every
// attempt of a delivery carries the same.
func smsChallengeID(a *AuditEvent) string {
	h := sha256.Sum256([]byte(a.ProgrammeID + "\x00" + strconv.FormatUint(a.Seq, 10)))
	return strconv.FormatUint(binary.BigEndian.Uint64(h[:8])>>1, 10)
}
