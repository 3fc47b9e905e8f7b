package core

import (
	"sort"
	"strings"
)

// eventSummary says in words what an audit event about a user was
// (SecurityEvent.Summary), so that the admin UI and an embedder's pages show
// the server's sentence instead of naming actions themselves. An action it
// has no words for reads as itself.
func eventSummary(a *AuditEvent) string {
	if say, ok := eventSummaries[a.Action]; ok {
		return say(a.Details)
	}
	return a.Action
}

// said is a summary that needs no details.
func said(s string) func(map[string]string) string {
	return func(map[string]string) string { return s }
}

// eventSummaries are the words of each action about a user.
var eventSummaries = map[string]func(d map[string]string) string{
	"user.create": func(d map[string]string) string {
		return "Created with roles " + rolesWords(d["roles"])
	},
	"user.update": func(d map[string]string) string {
		var changed []string
		for field, v := range d {
			if field != "roles" && v == "changed" {
				changed = append(changed, field)
			}
		}
		sort.Strings(changed)
		var parts []string
		if len(changed) > 0 {
			parts = append(parts, "Changed "+strings.Join(changed, ", "))
		}
		if roles, ok := d["roles"]; ok {
			parts = append(parts, "Roles set to "+rolesWords(roles))
		}
		if len(parts) == 0 {
			return "Updated"
		}
		return strings.Join(parts, "; ")
	},
	"user.activate":                said("Activated"),
	"user.deactivate":              said("Deactivated"),
	"user.invite":                  said("Invite sent"),
	"user.invite_consume":          said("Invite accepted, password set"),
	"user.invite_code_wrong":       said("Wrong invite code tried"),
	"user.email_verification_sent": said("Email verification code sent"),
	"user.email_verified":          said("Email address verified"),
	"user.kyc_start":               said("Identity check started"),
	"user.kyc_withdrawn":           said("Identity check withdrawn"),
	"user.kyc_decision":            func(d map[string]string) string { return "Identity check decided: " + d["status"] },
	"user.access_token":            said("Switched to another identity"),
	"user.logout":                  said("Signed out"),
	"user.device_reset":            said("Devices reset: the companion unlinked, SMS codes off"),
	"login.failed":                 said("Wrong password"),
	"login.locked":                 said("Wrong password: sign-in locked"),
	"login.refused_locked":         said("Sign-in refused while locked"),
	"login.ambiguous":              said("Sign-in refused: another user has the same password"),
	"password.create":              said("Password set"),
	"password.update":              said("Password changed"),
	"password.reset":               said("Password reset"),
	"password.reset_requested":     said("Password reset asked for"),
	"factor.unlink": func(d map[string]string) string {
		s := channelWords(d["channel"]) + " turned off"
		if d["reason"] != "" {
			s += ": " + d["reason"]
		}
		return s
	},
	"push.approve":                   func(d map[string]string) string { return pushWords(d["kind"]) + " approved on the phone" },
	"push.decline":                   func(d map[string]string) string { return pushWords(d["kind"]) + " declined on the phone" },
	"push.cancel":                    func(d map[string]string) string { return pushWords(d["kind"]) + " withdrawn" },
	"push.expire":                    func(d map[string]string) string { return pushWords(d["kind"]) + " not answered in time" },
	"challenge.issue":                func(d map[string]string) string { return "Code texted for " + purposeWords(d["purpose"]) },
	"challenge.verify":               func(d map[string]string) string { return "Code verified for " + purposeWords(d["purpose"]) },
	"challenge.expire":               func(d map[string]string) string { return "Code for " + purposeWords(d["purpose"]) + " expired unused" },
	"security.push_not_me":           said("Reported “I did not do this” on the phone"),
	"security.sign_count_regression": said("The phone's key was used out of order: it may have been copied"),
	"confirmation.issue":             said("Confirmation asked for"),
	"confirmation.verify":            said("Confirmation verified"),
	"confirmation.failed":            func(d map[string]string) string { return "Confirmation failed: " + strings.ToLower(d["outcome"]) },
	"user.login": func(d map[string]string) string {
		if d["method"] == "biometric" {
			return "Signed in with biometrics"
		}
		return "Signed in with password"
	},
	"factor.enrol": func(d map[string]string) string {
		s := channelWords(d["channel"])
		if d["sms"] == string(FactorActive) {
			s += " and " + channelWords(string(ChannelSMS))
		}
		s += " turned on"
		if d["replaced"] != "" {
			s += ", replacing the device before"
		}
		return s
	},
	"challenge.failed": func(d map[string]string) string {
		s := "Wrong code for " + purposeWords(d["purpose"])
		switch {
		case d["locked"] == "true":
			return s + ": codes locked"
		case d["exhausted"] == "true":
			return s + ": no tries left on it"
		}
		return s
	},
	"push.issue": func(d map[string]string) string { return pushWords(d["kind"]) + " sent to the phone" },
}

// rolesWords lists roles as joinRoles wrote them, or says there are none.
func rolesWords(roles string) string {
	if roles == "" {
		return "none (every permission)"
	}
	return strings.ReplaceAll(roles, ",", ", ")
}

func channelWords(channel string) string {
	if channel == string(ChannelBiometric) {
		return "Approvals on the phone"
	}
	return "SMS codes"
}

func pushWords(kind string) string {
	switch PushKind(kind) {
	case PushLogin:
		return "Sign-in request"
	case PushConfirm:
		return "Confirmation request"
	}
	return "Step-up request"
}

func purposeWords(purpose string) string {
	switch ChallengePurpose(purpose) {
	case PurposeEnrolSMS:
		return "SMS enrolment"
	case PurposeEnrolBiometric:
		return "enrolling the phone"
	case PurposeStepUpSMS:
		return "a step-up"
	}
	return purpose
}
