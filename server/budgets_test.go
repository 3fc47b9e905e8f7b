package server_test

// Budgets on what sends (issue 12, point 6): SMS per user and per number,
// email per address, with Weavr's 429; IPv6 clients counted by /64. Invite
// budgets are in invites_test.go.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
)

// channelTo counts the outbox messages of channel to addr.
func (e *env) channelTo(channel, to string) int {
	e.t.Helper()
	n := 0
	for _, m := range e.outbox() {
		if m.Channel == channel && m.To == to {
			n++
		}
	}
	return n
}

// Step-up codes asked for in parallel from many sessions of one user: exactly
// the user's SMS budget is sent, every other request gets 429 and sends nothing.
func TestSMSBudgetPerUserIsExactUnderParallelRequests(t *testing.T) {
	const budget = 6
	e := newEnv(t, withRateLimits(core.RateLimits{SMSPerUser: core.RateLimit{Requests: budget, Window: time.Hour}}))
	e.alignClock(time.Hour)
	e.enrolledRoot("root@acme.test") // the enrolment code is the first SMS
	const n = 20
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.loginToken("root@acme.test")
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Go(func() {
			r := e.auth(token, "POST", stepUpPath, nil)
			if statuses[i] = r.status; r.status == http.StatusTooManyRequests {
				wantRateLimitedWithin(t, r, "6, 6;w=3600", time.Hour)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusNoContent: budget - 1, http.StatusTooManyRequests: n - budget + 1}, tally(statuses))
	assert.Equal(t, budget, e.channelTo("SMS", "+447700900123"), "texts sent")

	e.advance(time.Hour)
	wantNoContent(t, e.auth(e.loginToken("root@acme.test"), "POST", stepUpPath, nil), "a new window")
}

// Several users given one number share that number's budget, in national
// form (a leading 0) or not; others do not. Texts to a number its user has
// not proven yet (enrolments) spend a budget of their own, so that setting
// another's number as one's own does not use up the owner's step-ups.
func TestSMSBudgetPerNumber(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{SMSPerNumber: core.RateLimit{Requests: 3, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test") // +447700900123, enrolled: one text to an unproven number
	same := userBody("same@acme.test")
	same["mobile"] = map[string]any{"countryCode": "+44", "number": "07700900123"}
	twin := e.createUser(root.token, same)
	r := e.key("POST", "/multi/passwords/"+twin+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	twinToken := str(t, r.json(t), "token")
	other := e.withPassword(root.token, "other@acme.test") // +447700900456

	wantNoContent(t, e.auth(twinToken, "POST", enrolPath, nil), "the unproven number's second text")
	e.advance(15 * time.Second)
	wantNoContent(t, e.auth(twinToken, "POST", enrolPath, nil), "its third")
	e.advance(15 * time.Second)
	wantRateLimitedWithin(t, e.auth(twinToken, "POST", enrolPath, nil), "3, 3;w=3600", time.Hour, "a re-send over the unproven number's budget")
	wantNoContent(t, e.auth(other.token, "POST", enrolPath, nil), "another number")

	wantNoContent(t, e.auth(root.token, "POST", stepUpPath, nil), "the owner's step-up: a budget of its own")
	wantNoContent(t, e.auth(twinToken, "POST", enrolVerifyPath, codeBody(sandboxCode)), "the twin proves the number")
	wantNoContent(t, e.auth(twinToken, "POST", stepUpPath, nil), "the proven number's second text")
	e.advance(15 * time.Second)
	wantNoContent(t, e.auth(root.token, "POST", stepUpPath, nil), "its third")
	e.advance(15 * time.Second)
	wantRateLimitedWithin(t, e.auth(twinToken, "POST", stepUpPath, nil), "3, 3;w=3600", time.Hour, "shared by the users who proved it")
	assert.Equal(t, 6, e.channelTo("SMS", "+447700900123")+e.channelTo("SMS", "+4407700900123"))
}

// A national prefix written after the country code names the same phone:
// "+1" with "12025550123" and with "2025550123" share one budget.
func TestSMSBudgetPerNumberWhateverTheNationalPrefix(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{SMSPerNumber: core.RateLimit{Requests: 2, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	var tokens []string
	for i, number := range []string{"2025550123", "12025550123"} {
		body := userBody(fmt.Sprintf("us%d@acme.test", i))
		body["mobile"] = map[string]any{"countryCode": "+1", "number": number}
		id := e.createUser(root.token, body)
		r := e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		tokens = append(tokens, str(t, r.json(t), "token"))
	}
	wantNoContent(t, e.auth(tokens[0], "POST", enrolPath, nil), "the first text")
	wantNoContent(t, e.auth(tokens[1], "POST", enrolPath, nil), "the second, with the prefix")
	e.advance(15 * time.Second)
	wantRateLimitedWithin(t, e.auth(tokens[0], "POST", enrolPath, nil), "2, 2;w=3600", time.Hour, "one phone's budget")
}

// Emails to one address share its budget (invites too: next test). Lost-password start answers 204
// whatever happens (it must not tell whether the address is known), so over
// the budget it sends nothing; email verification (which already says
// whether the address is known) and invites answer 429.
func TestEmailBudgetPerAddress(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 3, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	e.withPassword(root.token, "bea@acme.test")

	wantNoContent(t, e.sendEmailCode("bea@acme.test"), "email 1")
	for i := range 2 {
		wantNoContent(t, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "bea@acme.test"}), "email %d", i+2)
	}
	for i := range 3 {
		wantNoContent(t, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "Bea@acme.test"}), "over the budget %d: the same answer", i+1)
	}
	wantRateLimitedWithin(t, e.sendEmailCode("bea@acme.test"), "3, 3;w=3600", time.Hour)
	assert.Equal(t, 3, e.channelTo("EMAIL", "bea@acme.test"), "emails sent")
	wantNoContent(t, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "root@acme.test"}), "another address")
	assert.Equal(t, 1, e.channelTo("EMAIL", "root@acme.test"))

	e.advance(time.Hour)
	wantNoContent(t, e.sendEmailCode("bea@acme.test"), "a new window")
}

// An invite re-sent over the address's budget is refused with 429, writes
// nothing and leaves the previous invite usable.
func TestInviteSendOverEmailBudget(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 1, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	e.invite(root.token, bea)
	wantRateLimitedWithin(t, e.auth(root.token, "POST", userPath(bea, "invite"), nil), "1, 1;w=3600", time.Hour)
	assert.Len(t, e.invitesTo("bea@acme.test"), 1)
	assert.Equal(t, 1, count(e.auditActions(), "user.invite"), "nothing written")
	wantNoContent(t, e.validateInvite(bea, sandboxCode))
}

// Addresses that differ only in a "+tag" reach one inbox, so they share its
// budget: an admin who creates users bea+1@, bea+2@ ... and invites each must
// not send that inbox more than the address's budget. The users stay apart.
func TestEmailBudgetIsPerMailboxWhateverThePlusTag(t *testing.T) {
	e := newEnv(t, withRateLimits(core.RateLimits{EmailPerAddress: core.RateLimit{Requests: 3, Window: time.Hour}}))
	e.alignClock(time.Hour)
	root := e.adminRoot("root@acme.test")
	var ids []string
	for _, addr := range []string{"bea+1@acme.test", "bea+2@acme.test", "bea@acme.test", "Bea+Three@acme.test"} {
		ids = append(ids, e.createUser(root.token, userBody(addr)))
	}
	for _, id := range ids[:3] {
		e.invite(root.token, id)
	}
	wantRateLimitedWithin(t, e.auth(root.token, "POST", userPath(ids[3], "invite"), nil), "3, 3;w=3600", time.Hour, "a fourth tag of the same inbox")
	assert.Empty(t, e.invitesTo("bea+three@acme.test"), "nothing sent over the inbox's budget")
	other := e.createUser(root.token, userBody("bea.other+1@acme.test"))
	e.invite(root.token, other) // another inbox, a budget of its own
}

// Behind a trusted proxy, IPv6 clients are counted by their /64.
func TestLoginRateLimitCountsIPv6By64(t *testing.T) {
	e, _ := newEnvWithKeys(t, loopbackProxy, withRateLimits(core.RateLimits{LoginPerIP: core.RateLimit{Requests: 2, Window: time.Minute}}))
	e.corporate("root@acme.test")
	e.alignClock(time.Minute)
	require.Equal(t, http.StatusOK, e.loginFrom("2001:db8:7:8::1", "root@acme.test", testPassword).status)
	require.Equal(t, http.StatusOK, e.loginFrom("2001:db8:7:8:a:b:c:d", "root@acme.test", testPassword).status)
	wantRateLimited(t, e.loginFrom("2001:db8:7:8::ffff", "root@acme.test", testPassword), "2, 2;w=60", "a third address in the /64")
	assert.Equal(t, http.StatusOK, e.loginFrom("2001:db8:7:9::1", "root@acme.test", testPassword).status, "the next /64")
}

// The SMS code of a biometric enrolment spends the same budget as the other
// texts: over it the enrolment does not begin.
func TestBiometricEnrolmentSpendsTheSMSBudget(t *testing.T) {
	e := newBioEnv(t, func(o *testserver.Options) {
		o.Config.RateLimits = &core.RateLimits{SMSPerUser: core.RateLimit{Requests: 1, Window: time.Hour}}
	})
	now := e.inst.Service.Now()
	e.inst.Clock.Advance(now.Truncate(time.Hour).Add(time.Hour + time.Second).Sub(now))
	e.root("root@acme.test")
	ctx := context.Background()
	_, err := e.login("root@acme.test").BeginBiometricEnrolment(ctx, "phone-1", "Phone")
	require.NoError(t, err)
	_, err = e.login("root@acme.test").BeginBiometricEnrolment(ctx, "phone-1", "Phone")
	ae := requireAPIError(t, err, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	assert.True(t, ae.RetryAfter > 59*time.Minute, "retry after %v", ae.RetryAfter)
}
