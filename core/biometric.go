package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// The biometric factor is a WebAuthn credential (W3C Web Authentication Level 3)
// held by the companion app, which acts as a platform authenticator for the
// configured origin (package mobile/authenticator). Deputy is the relying party:
// go-webauthn verifies the ceremonies, and core adds what go-webauthn leaves to
// the relying party: its own expiry on the injected clock, sign-counter
// regressions as errors (go-webauthn only sets CloneWarning), one device per
// user, and the dynamic linking of push approvals (push.go). Core uses only
// go-webauthn's transport-free functions (BeginRegistration, CreateCredential,
// BeginLogin, ValidateLogin), never its net/http helpers.

// Machine codes of the biometric and push operations. CHANNEL_NOT_SUPPORTED is
// Weavr's; the WEBAUTHN_* codes are Deputy's, one per reason a WebAuthn
// response is refused, so that a client (or a test) can tell them apart.
const (
	CodeChannelNotSupported = "CHANNEL_NOT_SUPPORTED"
	// CodeWebAuthnType: clientDataJSON.type is not the ceremony's (§7.1 step 7, §7.2 step 11).
	CodeWebAuthnType = "WEBAUTHN_TYPE_INVALID"
	// CodeWebAuthnChallenge: clientDataJSON.challenge is not the one issued
	// (§7.1 step 8, §7.2 step 12), e.g. a signature made for another push challenge.
	CodeWebAuthnChallenge = "WEBAUTHN_CHALLENGE_MISMATCH"
	// CodeWebAuthnOrigin: clientDataJSON.origin is not an allowed origin (§7.1 step 9, §7.2 step 13).
	CodeWebAuthnOrigin = "WEBAUTHN_ORIGIN_INVALID"
	// CodeWebAuthnRPID: authenticatorData.rpIdHash is not SHA-256 of the RP ID (§7.1 step 13, §7.2 step 15).
	CodeWebAuthnRPID = "WEBAUTHN_RP_ID_INVALID"
	// CodeWebAuthnUserNotVerified: the UV flag is not set (§7.1 step 15, §7.2 step 17).
	CodeWebAuthnUserNotVerified = "WEBAUTHN_USER_NOT_VERIFIED"
	// CodeWebAuthnSignature: the signature does not verify over authenticatorData
	// and the client data hash (§7.2 step 20), e.g. tampered authenticatorData.
	CodeWebAuthnSignature = "WEBAUTHN_SIGNATURE_INVALID"
	// CodeWebAuthnSignCount: the signature counter did not increase (§7.2 step 21): a cloned authenticator.
	CodeWebAuthnSignCount = "WEBAUTHN_SIGN_COUNT_REGRESSION"
	// CodeWebAuthnInvalid: any other reason the response was refused.
	CodeWebAuthnInvalid = "WEBAUTHN_RESPONSE_INVALID"
	// CodeWebAuthnCredentialTaken: the credential id is already registered,
	// to this or any other user (§7.1 step 22).
	CodeWebAuthnCredentialTaken = "WEBAUTHN_CREDENTIAL_ALREADY_REGISTERED"
)

// rpDisplayName is the relying party's name in creation options; a ceremony
// overrides it with the programme's name.
const rpDisplayName = "Deputy"

// applyPushDefaults fills in and checks the WebAuthn and push settings.
func (c *Config) applyPushDefaults() error {
	if c.WebAuthnRPID == "" {
		c.WebAuthnRPID = "localhost"
	}
	if len(c.WebAuthnOrigins) == 0 {
		c.WebAuthnOrigins = []string{"https://localhost"}
	}
	if c.PushHeartbeat == 0 {
		c.PushHeartbeat = 15 * time.Second
	}
	if c.PushPoll == 0 {
		c.PushPoll = 3 * time.Second
	}
	if c.PushHeartbeat < 0 || c.PushPoll < 0 {
		return errors.New("push heartbeat and poll intervals must not be negative")
	}
	for _, o := range c.WebAuthnOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("WebAuthn origin %q is not scheme://host[:port]", o)
		}
		host := strings.ToLower(u.Hostname())
		rp := strings.ToLower(c.WebAuthnRPID)
		if host != rp && !strings.HasSuffix(host, "."+rp) {
			return fmt.Errorf("WebAuthn RP ID %q is neither the host of origin %q nor a parent domain of it (WebAuthn §5.1.2)", c.WebAuthnRPID, o)
		}
	}
	return nil
}

// newRelyingParty builds the go-webauthn relying party. Its own timeouts are
// not enforced: core expires ceremonies on the injected clock instead.
func newRelyingParty(cfg Config) (*webauthn.WebAuthn, error) {
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.WebAuthnRPID,
		RPDisplayName: rpDisplayName,
		RPOrigins:     cfg.WebAuthnOrigins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			AuthenticatorAttachment: protocol.Platform,
			ResidentKey:             protocol.ResidentKeyRequirementDiscouraged,
			UserVerification:        protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("core config: WebAuthn: %w", err)
	}
	return rp, nil
}

// WebAuthnRPID is the relying party id the companion's credentials belong to.
func (s *Service) WebAuthnRPID() string { return s.cfg.WebAuthnRPID }

// webauthnUser presents a user and their biometric credential to go-webauthn.
type webauthnUser struct {
	handle      []byte
	name, shown string
	creds       []webauthn.Credential
}

func (u *webauthnUser) WebAuthnID() []byte                         { return u.handle }
func (u *webauthnUser) WebAuthnName() string                       { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string                { return u.shown }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// newWebAuthnUser presents u with the credential of factor f (nil for none).
func newWebAuthnUser(u *User, handle []byte, f *Factor) *webauthnUser {
	wu := &webauthnUser{handle: handle, name: u.Email, shown: strings.TrimSpace(u.Name + " " + u.Surname)}
	if wu.shown == "" {
		wu.shown = u.Email
	}
	if f != nil {
		wu.creds = []webauthn.Credential{{
			ID:                f.CredentialID,
			PublicKey:         f.PublicKey,
			AttestationType:   "none",
			AttestationFormat: "none",
			Flags:             webauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: f.BackupEligible},
			Authenticator:     webauthn.Authenticator{AAGUID: f.AAGUID, SignCount: f.SignCount},
		}}
	}
	return wu
}

// requireBiometrics fails unless the programme has biometrics switched on.
func requireBiometrics(p *Programme) error {
	if !p.Settings.Biometrics {
		return Conflict(CodeChannelNotSupported)
	}
	return nil
}

// BeginBiometricEnrolment starts enrolling the caller's companion device for
// the BIOMETRIC channel (Deputy's open form of Weavr enrolDeviceUsingPush): an
// SMS code goes to the user's mobile, under the same limits as an SMS
// enrolment, and the answer is the PublicKeyCredentialCreationOptions (WebAuthn
// §5.4) for the companion's authenticator, as JSON: attestation "none", user
// verification required, ES256. FinishBiometricEnrolment completes it.
func (s *Service) BeginBiometricEnrolment(ctx context.Context, c *Caller, deviceID, deviceName string) (json.RawMessage, error) {
	if err := requireBiometrics(c.Programme); err != nil {
		return nil, err
	}
	handle := make([]byte, 32)
	_, _ = rand.Read(handle) // crypto/rand.Read never fails (Go 1.24)
	creation, session, err := s.rp.BeginRegistration(newWebAuthnUser(c.User, handle, nil),
		webauthn.WithRegistrationRelyingPartyName(c.Programme.Name),
		webauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return nil, fmt.Errorf("begin WebAuthn registration: %w", err)
	}
	sessionJSON, err := json.Marshal(session)
	if err != nil {
		return nil, fmt.Errorf("encode WebAuthn session: %w", err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, fmt.Errorf("encode creation options: %w", err)
	}
	err = s.issueChallenge(ctx, c, PurposeEnrolBiometric, nil, json.RawMessage(options), func(tx Tx, u *User, now time.Time) error {
		if u.Mobile == nil {
			return Conflict(CodeMobileNotAvailable)
		}
		factors, err := tx.Factors(u.ID)
		if err != nil {
			return err
		}
		if err := s.unprovenNumberStepUp(tx, c, u, factors, "factor.biometric.enrol", "Link a new companion device, with codes by SMS on "); err != nil {
			return err
		}
		return tx.PutWebAuthnRegistration(&WebAuthnRegistration{
			SessionHash: c.Session.TokenHash,
			UserID:      u.ID,
			DeviceID:    deviceID,
			DeviceName:  deviceName,
			UserHandle:  handle,
			Session:     sessionJSON,
			Mobile:      *u.Mobile,
			ExpiresAt:   now.Add(s.cfg.ChallengeTTL),
		})
	})
	if err != nil {
		return nil, err
	}
	return options, nil
}

// unprovenNumberStepUp asks a stepped-up session for action, an enrolment
// of u's that a code to u's mobile completes (summary, which the number
// ends), while that code would prove only the number: SMS is not ACTIVE on
// it and another of u's factors (a linked phone) is, so the password and the
// number must not replace that factor or switch SMS on.
func (s *Service) unprovenNumberStepUp(tx Tx, c *Caller, u *User, factors []*Factor, action, summary string) error {
	if sms := factorOn(factors, ChannelSMS); sms != nil && sms.Status == FactorActive {
		return nil
	}
	for _, f := range factors {
		if f.Channel != ChannelSMS && f.Status == FactorActive {
			return s.stepUp(tx, c, Operation{Action: action, Target: u.ID, Fields: []string{"mobile", mobileField(*u.Mobile)},
				Summary: summary + u.Mobile.E164()})
		}
	}
	return nil
}

// factorOn returns the factor of channel among factors, nil when none.
func factorOn(factors []*Factor, channel Channel) *Factor {
	for _, f := range factors {
		if f.Channel == channel {
			return f
		}
	}
	return nil
}

// deviceSecretPrefix marks the secrets devices get at their enrolment.
const deviceSecretPrefix = "dds_"

// BiometricEnrolled is what a finished enrolment hands the device: its
// secret, shown once, which a session the device signs in with later
// presents to speak for it (deviceAccess).
type BiometricEnrolled struct {
	DeviceSecret string
}

// FinishBiometricEnrolment completes a biometric enrolment with the SMS code
// and the authenticator's RegistrationResponseJSON (WebAuthn §5.1.8), verified
// as WebAuthn §7.1 "Registering a New Credential" says; a credential id that
// is already registered, to anyone, is refused (step 22,
// WEBAUTHN_CREDENTIAL_ALREADY_REGISTERED). In one transaction the code is
// spent, SMS becomes ACTIVE if it was not (no separate SMS enrolment is
// needed), the session is stepped up and bound to the new device
// (Session.DeviceID), and the previous device's credential is replaced: the
// revocation policy's DEVICE_REPLACED row ends the other sessions (the old
// device's among them) and pending push challenges, and the previous device
// learns it was unlinked from its event stream. A first device is
// DEVICE_LINKED: the user is told. The device gets a new secret.
func (s *Service) FinishBiometricEnrolment(ctx context.Context, c *Caller, code string, credential []byte) (*BiometricEnrolled, error) {
	if err := requireBiometrics(c.Programme); err != nil {
		return nil, err
	}
	var reg *WebAuthnRegistration
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		reg, err = tx.WebAuthnRegistration(c.Session.TokenHash)
		return err
	})
	if errors.Is(err, ErrRecordNotFound) {
		return nil, Conflict(CodeStateInvalid)
	}
	if err != nil {
		return nil, internal("read WebAuthn registration", err)
	}
	if !s.clock.Now().Before(reg.ExpiresAt) {
		return nil, Conflict(CodeCodeExpired)
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(reg.Session, &session); err != nil {
		return nil, fmt.Errorf("decode WebAuthn session: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return nil, Invalid("credential", ReasonIn, "RegistrationResponseJSON")
	}
	if err := s.precheckClientData(&parsed.Response.CollectedClientData, protocol.CreateCeremony, session.Challenge); err != nil {
		return nil, err
	}
	if err := s.precheckAuthData(parsed.Response.AttestationObject.AuthData.RPIDHash, parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return nil, err
	}
	cred, err := s.rp.CreateCredential(newWebAuthnUser(c.User, reg.UserHandle, nil), session, parsed)
	if err != nil {
		return nil, &Error{Class: ErrConflict, Code: CodeWebAuthnInvalid, Message: "the attestation was not accepted"}
	}
	secret, err := randomToken(deviceSecretPrefix)
	if err != nil {
		return nil, err
	}
	out := &BiometricEnrolled{DeviceSecret: secret}
	var after func()
	err = s.verifyChallenge(ctx, c, PurposeEnrolBiometric, code, out, func(tx Tx, _ *Challenge, now time.Time) error {
		after = nil
		previous := ""
		if _, err := tx.FactorByCredentialID(cred.ID); err == nil {
			return Conflict(CodeWebAuthnCredentialTaken)
		} else if !errors.Is(err, ErrRecordNotFound) {
			return err
		}
		cur, err := tx.WebAuthnRegistration(c.Session.TokenHash)
		if errors.Is(err, ErrRecordNotFound) || (err == nil && !bytes.Equal(cur.Session, reg.Session)) {
			return Conflict(CodeStateInvalid) // a newer begin replaced it meanwhile
		}
		if err != nil {
			return err
		}
		u, err := tx.User(c.User.ID)
		if err != nil {
			return err
		}
		if u.Mobile == nil || *u.Mobile != cur.Mobile {
			return Conflict(CodeStateInvalid) // the code went to a number that is no longer the user's
		}
		sms, err := tx.Factor(u.ID, ChannelSMS)
		switch {
		case errors.Is(err, ErrRecordNotFound):
			sms = &Factor{UserID: u.ID, Channel: ChannelSMS, CreatedAt: now}
		case err != nil:
			return err
		}
		details := map[string]string{"channel": string(ChannelBiometric), "device": reg.DeviceID}
		if sms.Status != FactorActive { // the code proved the number
			sms.Status, sms.Mobile, sms.UpdatedAt = FactorActive, u.Mobile, now
			if err := tx.PutFactor(sms); err != nil {
				return err
			}
			details["sms"] = string(FactorActive)
		}
		bio := &Factor{UserID: u.ID, Channel: ChannelBiometric, CreatedAt: now}
		old, err := tx.Factor(u.ID, ChannelBiometric)
		switch {
		case errors.Is(err, ErrRecordNotFound):
		case err != nil:
			return err
		default:
			bio.CreatedAt = old.CreatedAt
			if old.Status == FactorActive {
				previous = old.DeviceID
			}
		}
		bio.Status, bio.UpdatedAt = FactorActive, now
		bio.DeviceID, bio.DeviceName = reg.DeviceID, reg.DeviceName
		bio.CredentialID, bio.PublicKey, bio.UserHandle = cred.ID, cred.PublicKey, reg.UserHandle
		bio.SignCount, bio.AAGUID, bio.BackupEligible = cred.Authenticator.SignCount, cred.Authenticator.AAGUID, cred.Flags.BackupEligible
		bio.DeviceSecretHash, bio.EnrolledBy = s.keys.hash(purposeDeviceSecret, secret), c.Session.TokenHash
		if err := tx.PutFactor(bio); err != nil {
			return err
		}
		if err := tx.DeleteWebAuthnRegistration(c.Session.TokenHash); err != nil {
			return err
		}
		if err := bindSession(tx, c.Session.TokenHash, reg.DeviceID); err != nil {
			return err
		}
		r := revocation{reason: RevokeDeviceLinked, user: u, keep: c.Session.TokenHash}
		if previous != "" {
			details["replaced"] = previous
			r.reason = RevokeDeviceReplaced
			if previous != reg.DeviceID {
				r.device = previous
			}
		}
		if after, err = s.revoke(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ProgrammeID, u.ID, "factor.enrol", u.ID, details)
	})
	if err != nil {
		return nil, err
	}
	after()
	return out, nil
}

// bindSession records in the session that it enrolled device (Session.DeviceID).
func bindSession(tx Tx, tokenHash []byte, device string) error {
	sess, err := tx.Session(tokenHash)
	if err != nil {
		return err
	}
	sess.DeviceID = device
	return tx.UpdateSession(sess)
}

// UnlinkBiometric unlinks the caller's companion device (Weavr
// unlinkDeviceUsingPush): the BIOMETRIC factor becomes INACTIVE, its credential
// is forgotten, and the revocation policy's DEVICE_UNLINKED row ends the
// user's other sessions and pending push challenges. It needs a stepped-up
// session.
func (s *Service) UnlinkBiometric(ctx context.Context, c *Caller) error {
	var after func()
	err := s.updateAs(ctx, c, func(tx Tx) error {
		after = nil
		u, err := tx.User(c.User.ID)
		if err != nil {
			return err
		}
		if err := s.stepUp(tx, c, Operation{Action: "factor.biometric.unlink", Target: u.ID, Summary: "Unlink your companion device"}); err != nil {
			return err
		}
		f, err := activeFactor(tx, u.ID, ChannelBiometric)
		if err != nil {
			return err
		}
		device := f.DeviceID
		if err := retireFactor(tx, f, s.clock.Now()); err != nil {
			return err
		}
		if after, err = s.revoke(ctx, tx, revocation{reason: RevokeDeviceUnlinked, user: u, keep: c.Session.TokenHash, device: device}); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, u.ID, "factor.unlink", u.ID, map[string]string{"channel": string(ChannelBiometric), "device": device}); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, nil)
	})
	if err != nil {
		return internal("unlink biometric", err)
	}
	after()
	return nil
}

// retireFactor makes f INACTIVE and forgets the WebAuthn credential and the
// push token it held (a BIOMETRIC factor's; an SMS factor holds neither).
func retireFactor(tx Tx, f *Factor, now time.Time) error {
	f.Status, f.UpdatedAt = FactorInactive, now
	f.CredentialID, f.PublicKey, f.UserHandle, f.AAGUID, f.SignCount = nil, nil, nil, nil, 0
	f.Push = nil
	return tx.PutFactor(f)
}

// precheckClientData checks clientDataJSON before go-webauthn does, so that
// each failure gets its own machine code: the type (§7.1 step 7, §7.2 step
// 11), the challenge (step 8 / 12, in constant time) and the origin (step 9 / 13).
func (s *Service) precheckClientData(cd *protocol.CollectedClientData, ceremony protocol.CeremonyType, challenge string) error {
	switch {
	case cd.Type != ceremony:
		return Conflict(CodeWebAuthnType)
	case !protocol.IsOriginInHaystack(cd.Origin, s.cfg.WebAuthnOrigins):
		return Conflict(CodeWebAuthnOrigin)
	case !constantTimeEqual(cd.Challenge, challenge):
		return Conflict(CodeWebAuthnChallenge)
	}
	return nil
}

// precheckAuthData checks the authenticator data's rpIdHash (§7.1 step 13,
// §7.2 step 15) and its UP and UV flags (steps 14-15 / 16-17).
func (s *Service) precheckAuthData(rpIDHash []byte, flags protocol.AuthenticatorFlags) error {
	want := sha256.Sum256([]byte(s.cfg.WebAuthnRPID))
	switch {
	case !bytes.Equal(rpIDHash, want[:]):
		return Conflict(CodeWebAuthnRPID)
	case !flags.HasUserPresent() || !flags.HasUserVerified():
		return Conflict(CodeWebAuthnUserNotVerified)
	}
	return nil
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
