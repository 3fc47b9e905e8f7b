package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/internal/pgtest"
	"github.com/deputyhq/deputy/server/client"
)

// TestReplicasServeOneJourney runs one Weavr client's journey twice on one
// PostgreSQL database: on a single `deputy serve`, then with each request
// sent to the other of two replicas, as a load balancer may. Every answer
// of the second run has the status and the shape of the first's: nothing a
// replica decides (tokens, step-ups, codes, invites, idempotency-refs,
// revocations) is kept where the other cannot see it.
func TestReplicasServeOneJourney(t *testing.T) {
	db := pgtest.URL(t)
	key := createProgramme(t, db)["apiKey"]
	args := []string{"--sandbox", "--db", db, "--audit-key", filepath.Join(t.TempDir(), "audit-key")}
	a, b := startServe(t, args...), startServe(t, args...)

	alone := weavrJourney(t, key, "alone", a)
	split := weavrJourney(t, key, "split", a, b)
	assert.Equal(t, alone.answers, split.answers, "the answers of one replica, then of two")
	assert.Equal(t, []int{len(split.answers)/2 + len(split.answers)%2, len(split.answers) / 2}, split.served, "requests per replica")
}

// journeyRecord is what weavrJourney saw: each answer as "METHOD /path
// status shape" (ids in paths as {id}; see shape), and how many requests
// each replica served.
type journeyRecord struct {
	answers []string
	served  []int
}

// weavrJourney walks a Weavr client through a corporate's life, its requests
// going to replicas in turn: sign-up, SMS enrolment, access token, step-up,
// a new user invited who accepts and signs in, user management, a lost
// password and a logout. Names and idempotency-refs carry run, so that the
// journey can run again on the same database.
func weavrJourney(t *testing.T, key, run string, replicas ...*serving) journeyRecord {
	t.Helper()
	ctx := context.Background()
	rec := &recorder{served: make([]int, len(replicas))}
	for _, s := range replicas {
		rec.addrs = append(rec.addrs, s.addr)
	}
	c, err := client.New("http://"+replicas[0].addr, key, client.WithHTTPClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	const code = "123456" // sandbox
	rootEmail, beaEmail := run+"-root@acme.test", run+"-bea@acme.test"

	corp, err := c.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: rootEmail,
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	}, client.IdempotencyRef(run+"-corporate"))
	require.NoError(t, err, "create the corporate")
	created, err := c.CreatePassword(ctx, corp.RootUser.ID.ID, "Sup3r-Secret")
	require.NoError(t, err, "create the root's password")
	first := c.Session(created.Token)
	require.NoError(t, first.EnrolSMS(ctx), "enrol the root's mobile")
	require.NoError(t, first.VerifyEnrolSMS(ctx, code), "verify the enrolment")

	login, err := c.LoginWithPassword(ctx, rootEmail, "Sup3r-Secret")
	require.NoError(t, err, "root login")
	access, err := c.Session(login.Token).AccessToken(ctx, &login.Identity)
	require.NoError(t, err, "access token")
	root := c.Session(access.Token)
	bea := client.UserCreate{Name: "Bea", Surname: "Smith", Email: beaEmail, Roles: []string{client.RoleCardAssignee}}
	_, err = root.CreateUser(ctx, bea, client.IdempotencyRef(run+"-bea"))
	require.ErrorIs(t, err, client.ErrStepUpRequired, "create a user before the step-up")
	require.NoError(t, root.StepUpSMS(ctx), "step-up challenge")
	require.NoError(t, root.VerifyStepUpSMS(ctx, code), "verify the step-up")
	user, err := root.CreateUser(ctx, bea, client.IdempotencyRef(run+"-bea"))
	require.NoError(t, err, "create a user")
	again, err := root.CreateUser(ctx, bea, client.IdempotencyRef(run+"-bea"))
	require.NoError(t, err, "create the user again with the same idempotency-ref")
	assert.Equal(t, user, again, "the first answer replayed")

	require.NoError(t, root.SendInvite(ctx, user.ID, client.IdempotencyRef(run+"-invite")), "send the invite")
	for _, s := range replicas { // the sandbox outbox is the database's
		outbox, err := client.New("http://"+s.addr, key)
		require.NoError(t, err)
		msgs, err := outbox.Outbox(ctx, 100)
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc(msgs, func(m client.Message) bool { return m.To == beaEmail && strings.Contains(m.Text, code) }),
			"replica %s shows the invite in its outbox", s.addr)
	}
	require.NoError(t, c.InviteValidate(ctx, user.ID, code), "validate the invite")
	_, err = c.InviteConsume(ctx, user.ID, code, "N3w-User-Passw0rd", &client.Mobile{CountryCode: "+44", Number: "7700900777"},
		client.IdempotencyRef(run+"-consume"))
	require.NoError(t, err, "consume the invite")
	beaLogin, err := c.LoginWithPassword(ctx, beaEmail, "N3w-User-Passw0rd")
	require.NoError(t, err, "the new user's login")
	beaSession := c.Session(beaLogin.Token)
	_, err = beaSession.Factors(ctx)
	require.NoError(t, err, "the new user's session works")

	updated, err := root.UpdateUser(ctx, user.ID, client.UserPatch{Tag: new("cards")}, client.IdempotencyRef(run+"-update"))
	require.NoError(t, err, "update the user")
	assert.Equal(t, "cards", updated.Tag)
	page, err := root.ListUsers(ctx, client.UserFilter{})
	require.NoError(t, err, "list users")
	assert.Equal(t, 1, page.Count)
	require.NoError(t, root.DeactivateUser(ctx, user.ID), "deactivate the user")
	_, err = beaSession.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "the deactivated user's session ended")
	page, err = root.ListUsers(ctx, client.UserFilter{Active: new(false)})
	require.NoError(t, err, "list inactive users")
	assert.Equal(t, 1, page.Count)

	require.NoError(t, c.LostPasswordStart(ctx, rootEmail), "lost password")
	_, err = c.LostPasswordResume(ctx, rootEmail, code, "An0ther-Secret")
	require.NoError(t, err, "reset the password")
	_, err = root.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "the reset ended the root's sessions")
	login, err = c.LoginWithPassword(ctx, rootEmail, "An0ther-Secret")
	require.NoError(t, err, "login with the new password")
	last := c.Session(login.Token)
	require.NoError(t, last.Logout(ctx), "logout")
	_, err = last.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized, "logged out")
	return journeyRecord{answers: rec.answers, served: rec.served}
}

// recorder sends each request to the next of addrs in turn and records its
// answer.
type recorder struct {
	addrs   []string
	mu      sync.Mutex
	next    int
	answers []string
	served  []int
}

// pathID is a numeric path segment: a user's or an identity's id.
var pathID = regexp.MustCompile(`/[0-9]+(/|$)`)

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	i := r.next
	r.next = (r.next + 1) % len(r.addrs)
	r.served[i]++
	r.mu.Unlock()
	req = req.Clone(req.Context())
	req.URL.Host = r.addrs[i]
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	answer := fmt.Sprint(req.Method, " ", pathID.ReplaceAllString(req.URL.Path, "/{id}$1"), " ", res.StatusCode)
	if len(body) > 0 {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, errors.Join(fmt.Errorf("%s %s: answer not JSON", req.Method, req.URL.Path), err)
		}
		s, _ := json.Marshal(shape(v))
		answer += " " + string(s)
	}
	r.mu.Lock()
	r.answers = append(r.answers, answer)
	r.mu.Unlock()
	return res, nil
}

// enumMembers are the members whose string values two runs of one journey
// share: codes, states and types.
var enumMembers = []string{"code", "errorCode", "status", "tokenType", "type"}

// shape is v with each string and number replaced by its type's name, but
// booleans and enumMembers kept: what two runs of one journey answer alike.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if s, ok := e.(string); ok && slices.Contains(enumMembers, k) {
				out[k] = s
				continue
			}
			out[k] = shape(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = shape(e)
		}
		return out
	case string:
		return "string"
	case float64:
		return "number"
	default:
		return v
	}
}
