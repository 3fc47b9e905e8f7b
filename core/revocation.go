package core

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"text/template"
)

// RevocationReason names a security-relevant change to a user. Every change
// that ends sessions, cancels push challenges or tells someone goes through
// Service.revoke with its reason, and revocationPolicy alone decides what
// follows from it.
type RevocationReason string

// Revocation reasons, one row each of revocationPolicy.
const (
	RevokeLockout         RevocationReason = "LOCKOUT"          // too many wrong passwords in a row
	RevokeSCALock         RevocationReason = "SCA_LOCK"         // too many wrong one-time codes in a row
	RevokeDeactivated     RevocationReason = "DEACTIVATED"      // an admin switched the user off
	RevokePasswordChanged RevocationReason = "PASSWORD_CHANGED" // the user changed their password
	RevokePasswordReset   RevocationReason = "PASSWORD_RESET"   // a lost-password code set a new one
	RevokeEmailChanged    RevocationReason = "EMAIL_CHANGED"    // the sign-in email changed
	RevokeMobileChanged   RevocationReason = "MOBILE_CHANGED"   // the SMS factor was lost with the old number
	RevokeMobileAdded     RevocationReason = "MOBILE_ADDED"     // a first mobile number was set
	RevokeRolesChanged    RevocationReason = "ROLES_CHANGED"
	RevokeNotMe           RevocationReason = "NOT_ME"          // "I did not do this" on the companion
	RevokeDeviceLinked    RevocationReason = "DEVICE_LINKED"   // a first (or again a) device was linked
	RevokeDeviceReplaced  RevocationReason = "DEVICE_REPLACED" // a new device replaced the linked one
	RevokeDeviceUnlinked  RevocationReason = "DEVICE_UNLINKED" // the user unlinked their device
	RevokeDeviceReset     RevocationReason = "DEVICE_RESET"    // an admin reset a lost phone's factors
	// RevokeSignCountRegression: the device's signature counter went back,
	// as when its key was copied (WebAuthn §7.2 step 21).
	RevokeSignCountRegression RevocationReason = "SIGN_COUNT_REGRESSION"
)

// sessionScope is which of the user's sessions a revocation ends.
type sessionScope int

// What a revocation does to the user's sessions. The zero value ends none.
const (
	keepSessions     sessionScope = iota
	endOtherSessions              // every session but the one that made the change
	endAllSessions                // every session of the user
)

// revocationEffects is one row of the policy.
type revocationEffects struct {
	sessions    sessionScope
	cancelPush  bool   // cancel the user's pending push challenges ...
	pushReason  string // ... with this PushChallenge.Reason
	keepSignIns bool   // ... but not biometric sign-ins (collection refuses them while a lock lasts)
	voidInvite  bool   // void the user's pending invite, so that its code no longer sets a password
	voidMailed  bool   // delete the user's lost-password and email-verification codes, so that no code emailed before counts
	alertUser   bool   // email the user subject and text (both addresses when the email changed)
	alertAdmins bool   // email the identity's root user and active admins adminText
	notifyPush  bool   // wake the user's push streams (an unlinked event when a device lost its link)
	subject     string
	text        string // a text/template noticeText renders
	adminText   string // the same, for admins
}

// revocationPolicy is the one table of what each reason ends and whom it
// tells. It is unexported so that nothing outside core can change it.
var revocationPolicy = map[RevocationReason]revocationEffects{
	RevokeLockout: {
		// Sessions stay: whoever guesses passwords must not sign the user out.
		// So do biometric sign-ins: anyone can cause this lockout, and a
		// sign-in it cancelled would tell them the email has a phone (an
		// unknown email's decoy never ends early).
		cancelPush: true, pushReason: PushReasonLocked, keepSignIns: true, alertUser: true, notifyPush: true,
		subject: "sign-in paused after wrong passwords",
		text:    "We received {{.LockoutThreshold}} wrong passwords for your account in a row, so we paused sign-in for {{.LockoutMinutes}} minutes.",
	},
	RevokeSCALock: {
		sessions: endAllSessions, cancelPush: true, pushReason: PushReasonLocked, alertUser: true, notifyPush: true,
		subject: "too many wrong verification codes",
		text:    "We received {{.SCAFailureLimit}} wrong verification codes for your account in a row, so we signed you out everywhere and paused verification for {{.SCALockoutMinutes}} minutes.",
	},
	RevokeDeactivated: {
		sessions: endAllSessions, cancelPush: true, pushReason: PushReasonDeactivated, voidInvite: true, voidMailed: true, notifyPush: true,
	},
	RevokePasswordChanged: {
		// A lost-password code mailed before must not undo the change: whoever
		// read it would set a password of their own over the user's new one.
		sessions: endAllSessions, voidMailed: true, cancelPush: true, pushReason: PushReasonPasswordChanged, alertUser: true, notifyPush: true,
		subject: "your password was changed",
		text:    "The password of your account was changed, and every other sign-in was ended.",
	},
	RevokePasswordReset: {
		sessions: endAllSessions, cancelPush: true, pushReason: PushReasonPasswordChanged, alertUser: true, notifyPush: true,
		subject: "your password was reset",
		text:    "The password of your account was set again with a lost-password code, and every other sign-in was ended.",
	},
	RevokeEmailChanged: {
		// Every code went to the old address: whoever reads it must not set
		// the first password, reset it, or verify the new address with one.
		voidInvite: true, voidMailed: true, alertUser: true,
		subject: "your sign-in email was changed",
		text:    "The email address you sign in with was changed. This message goes to the address before and after the change.",
	},
	RevokeMobileChanged: {
		sessions: endOtherSessions, alertUser: true, notifyPush: true,
		subject: "your mobile number was changed",
		text:    "The mobile number of your account was changed. Verification codes by text message stay off until the new number is enrolled, and every other sign-in was ended.",
	},
	RevokeMobileAdded: {
		// Nothing ends (no factor was lost), but the user hears of it: whoever
		// holds their password alone could otherwise give them a number of
		// their own and enrol it for step-up unseen.
		alertUser: true,
		subject:   "a mobile number was added",
		text:      "A mobile number was added to your account: verification codes by text message can be sent to it once it is enrolled.",
	},
	RevokeRolesChanged: {
		alertUser: true,
		subject:   "your roles were changed",
		text:      "The roles of your account, and so what you may do, were changed.",
	},
	RevokeNotMe: {
		sessions: endAllSessions, cancelPush: true, pushReason: PushReasonNotMe, alertUser: true, alertAdmins: true, notifyPush: true,
		subject:   "an approval you did not ask for",
		text:      "You told us you did not ask for an approval sent to your companion app. We signed you out everywhere. Change your password if someone else may know it.",
		adminText: "The user {{.Email}} told us they did not ask for an approval sent to their companion app. We signed them out everywhere; someone else may know their password.",
	},
	RevokeDeviceLinked: {
		alertUser: true,
		subject:   "a device was linked",
		text:      "A companion device was linked to your account: it can now approve sign-ins and operations.",
	},
	RevokeDeviceReplaced: {
		sessions: endOtherSessions, cancelPush: true, pushReason: PushReasonDeviceChanged, alertUser: true, notifyPush: true,
		subject: "a new device replaced your device",
		text:    "A new companion device was linked to your account and replaced the previous one, which was signed out and can no longer approve anything.",
	},
	RevokeDeviceUnlinked: {
		sessions: endOtherSessions, cancelPush: true, pushReason: PushReasonUnlinked, alertUser: true, notifyPush: true,
		subject: "your device was unlinked",
		text:    "The companion device of your account was unlinked and every other sign-in was ended.",
	},
	RevokeDeviceReset: {
		sessions: endAllSessions, cancelPush: true, pushReason: PushReasonDeviceReset, alertUser: true, notifyPush: true,
		subject: "your phone was reset",
		text:    "An administrator reset your phone: it can no longer approve anything or receive verification codes, and you were signed out everywhere. Enrol your phone again to step up.",
	},
	RevokeSignCountRegression: {
		alertUser: true,
		subject:   "a copied security key may be in use",
		text:      "Your companion app's credential answered with a signature counter lower than before, which happens when the key was copied to another device. We refused the approval.",
	},
}

// RevocationReasons returns every reason of the policy, sorted.
func RevocationReasons() []RevocationReason {
	return slices.Sorted(maps.Keys(revocationPolicy))
}

// revocation is one application of the policy.
type revocation struct {
	reason RevocationReason
	user   *User  // the user concerned, as the change leaves them
	keep   []byte // token hash of the session that made the change (endOtherSessions keeps it when it is the user's)
	// oldEmail is the address before an EMAIL_CHANGED, told too.
	oldEmail string
	// device is the device that lost its link (DEVICE_REPLACED, DEVICE_UNLINKED).
	device string
}

// revoke applies the policy row of r.reason inside tx: it ends sessions and
// cancels push challenges there, and returns what must happen after tx
// commits (emails, waking push streams), which the caller runs only then.
func (s *Service) revoke(ctx context.Context, tx Tx, r revocation) (after func(), err error) {
	e, ok := revocationPolicy[r.reason]
	if !ok {
		panic("core: no revocation policy for " + string(r.reason))
	}
	u := r.user
	users, err := signInUsers(tx, u)
	if err != nil {
		return nil, err
	}
	if err := endSessions(tx, users, e.sessions, r.keep); err != nil {
		return nil, err
	}
	if e.cancelPush {
		for _, id := range users {
			if err := s.cancelPushChallenges(ctx, tx, id, s.clock.Now(), e.pushReason, !e.keepSignIns); err != nil {
				return nil, err
			}
		}
	}
	if e.voidInvite {
		if err := voidInvite(tx, u.ID); err != nil {
			return nil, err
		}
	}
	if e.voidMailed {
		if err := voidMailedCodes(tx, u.ID); err != nil {
			return nil, err
		}
	}
	var prog *Programme
	var admins []*User
	if e.alertUser || e.alertAdmins {
		if prog, err = tx.Programme(u.ProgrammeID); err != nil {
			return nil, err
		}
	}
	if e.alertAdmins {
		if admins, err = identityAdmins(tx, u); err != nil {
			return nil, err
		}
	}
	return func() {
		if kind, ok := lockoutKinds[r.reason]; ok {
			s.obs.Lockout(ctx, kind)
		}
		if e.alertUser {
			text := s.noticeText(e.text, u)
			s.securityAlert(ctx, prog, u, u.Email, e.subject, text)
			if r.oldEmail != "" && r.oldEmail != u.Email {
				s.securityAlert(ctx, prog, u, r.oldEmail, e.subject, text)
			}
		}
		for _, a := range admins {
			s.adminAlert(ctx, prog, a, e.subject, s.noticeText(e.adminText, u))
		}
		if !e.notifyPush {
			return
		}
		for _, id := range users {
			if id == u.ID && r.device != "" {
				s.publishPush(ctx, PushEvent{Kind: PushEventUnlinked, UserID: u.ID, DeviceID: r.device})
				continue
			}
			s.pushChanged(ctx, id)
		}
	}, nil
}

// voidMailedCodes deletes the user's lost-password and email-verification
// codes, if any.
func voidMailedCodes(tx Tx, userID string) error {
	for _, del := range []func(string) error{tx.DeleteResetCode, tx.DeleteEmailCode} {
		if err := del(userID); err != nil && !errors.Is(err, ErrRecordNotFound) {
			return err
		}
	}
	return nil
}

// endSessions ends the sessions of users (a sign-in's, signInUsers) as
// which says, keeping the session keep under endOtherSessions when it is one
// of them. A revocation of one user reaches every identity their credentials
// sign in to: the person behind them is the same, and whoever made the
// change (a thief's "not me", a code guesser's lock) may hold any of the
// sign-in's tokens.
func endSessions(tx Tx, users []string, which sessionScope, keep []byte) error {
	if which == keepSessions {
		return nil
	}
	var kept *Session
	if which == endOtherSessions && keep != nil {
		sess, err := tx.Session(keep)
		switch {
		case err == nil && slices.Contains(users, sess.UserID):
			kept = sess
		case err != nil && !errors.Is(err, ErrRecordNotFound):
			return err
		}
	}
	for _, id := range users {
		if _, err := tx.DeleteUserSessions(id); err != nil {
			return err
		}
	}
	if kept != nil {
		return tx.InsertSession(kept)
	}
	return nil
}

// maxAlertedAdmins bounds the admins one alert goes to.
const maxAlertedAdmins = 100

// identityAdmins returns who is alerted about u: the identity's root user and
// its active admins, u excepted.
func identityAdmins(tx ReadTx, u *User) ([]*User, error) {
	active := true
	admins, _, err := tx.ListUsers(u.IdentityID, UserFilter{Roles: []Role{RoleAdmin}, Active: &active, Limit: maxAlertedAdmins})
	if err != nil {
		return nil, err
	}
	root, err := tx.User(u.IdentityID)
	if err != nil && !errors.Is(err, ErrRecordNotFound) {
		return nil, err
	}
	if err == nil && root.Active {
		admins = append([]*User{root}, admins...)
	}
	out := admins[:0]
	for _, a := range admins {
		if a.ID != u.ID {
			out = append(out, a)
		}
	}
	return out, nil
}

// securityAlert emails a notice about u's account to the address to.
// Notices never carry a secret: only what changed, not to what.
func (s *Service) securityAlert(ctx context.Context, prog *Programme, u *User, to, subject, text string) {
	s.noticeLater(ctx, prog, ownNotices, recipientOf(u), to, "security_alert", map[string]any{"Name": u.Name, "Subject": subject, "Text": text})
}

// adminAlert emails an admin about another user's account, from the
// admin's budget of such alerts (adminNotices).
func (s *Service) adminAlert(ctx context.Context, prog *Programme, admin *User, subject, text string) {
	s.noticeLater(ctx, prog, adminNotices, recipientOf(admin), admin.Email, "admin_alert", map[string]any{"Name": admin.Name, "Subject": subject, "Text": text})
}

// noticeText renders a policy text for user u: it may name the user's email
// and the limits of the configuration, never a secret.
func (s *Service) noticeText(text string, u *User) string {
	var b strings.Builder
	err := template.Must(template.New("").Option("missingkey=error").Parse(text)).Execute(&b, map[string]any{
		"Email":             u.Email,
		"LockoutThreshold":  s.cfg.LockoutThreshold,
		"LockoutMinutes":    int(s.cfg.LockoutDuration.Minutes()),
		"SCAFailureLimit":   s.cfg.SCAFailureLimit,
		"SCALockoutMinutes": int(s.cfg.SCALockout.Minutes()),
	})
	if err != nil {
		panic("core: revocation notice: " + err.Error()) // TestRevocationNotices renders every one
	}
	return b.String()
}
