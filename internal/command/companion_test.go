package command_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// companionEnv is a sandbox server with a corporate whose root user
// ada@acme.test the headless companion in dir acts for.
type companionEnv struct {
	api       *client.Client
	corp      *client.Corporate
	dir       string
	companion func(args ...string) (string, error) // runs `deputy companion args...`
	requester func() *client.Session               // signs ada in, as another client would
}

func newCompanionEnv(t *testing.T, set core.ProgrammeSettings) *companionEnv {
	t.Helper()
	inst := testserver.Start(t, testserver.Options{Programme: core.NewProgramme{Name: "CLI", Settings: set}})
	ctx := context.Background()
	api, err := client.New(inst.URL, inst.APIKey)
	require.NoError(t, err)
	ui, err := client.New(inst.URL, inst.UIKey)
	require.NoError(t, err)
	corp, err := api.CreateCorporate(ctx, client.CorporateCreate{
		RootUser:  client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	require.NoError(t, err)
	_, err = api.CreatePassword(ctx, corp.RootUser.ID.ID, "Str0ng-Passw0rd")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "companion")
	return &companionEnv{api: api, corp: corp, dir: dir,
		companion: func(args ...string) (string, error) {
			t.Helper()
			return run(t, 60*time.Second, append(append([]string{"companion"}, args...),
				"--server", inst.URL, "--key", inst.UIKey, "--email", "ada@acme.test", "--password", "Str0ng-Passw0rd", "--dir", dir)...)
		},
		requester: func() *client.Session {
			l, err := ui.LoginWithPassword(ctx, "ada@acme.test", "Str0ng-Passw0rd")
			require.NoError(t, err)
			return ui.Session(l.Token)
		},
	}
}

// TestCompanionCLIOperationStepUp: under operation-bound step-ups the
// headless companion shows and approves the operation a step-up named, which
// then goes through once, and unlinks its device.
func TestCompanionCLIOperationStepUp(t *testing.T) {
	ce := newCompanionEnv(t, core.ProgrammeSettings{Biometrics: true, StepUpScope: core.StepUpOperation})
	ctx := context.Background()
	_, err := ce.companion("enrol", "--device-name", "CI runner", "--code", core.SandboxCode, "--passcode", "correct horse")
	require.NoError(t, err)

	admin := ce.requester()
	pia := client.UserCreate{Name: "Pia", Surname: "Sand", Email: "pia@acme.test", Roles: []string{client.RoleAdmin}}
	_, err = admin.CreateUser(ctx, pia)
	require.ErrorIs(t, err, client.ErrStepUpRequired)
	up, err := admin.StepUpPush(ctx, "", client.StepUpFor(err))
	require.NoError(t, err)
	out, err := ce.companion("pending")
	require.NoError(t, err)
	assert.Contains(t, out, "Create user pia@acme.test with roles ADMIN")
	assert.NotContains(t, out, "requester's own words", "an operation's summary is the server's")
	out, err = ce.companion("approve", "--id", up.ID, "--number", strconv.Itoa(up.Number), "--passcode", "correct horse")
	require.NoError(t, err)
	assert.Contains(t, out, "Approved challenge "+up.ID+": Create user pia@acme.test with roles ADMIN")
	_, err = admin.CreateUser(ctx, pia)
	require.NoError(t, err, "the approved operation")
	_, err = admin.CreateUser(ctx, client.UserCreate{Name: "Bea", Surname: "Sand", Email: "bea@acme.test"})
	require.ErrorIs(t, err, client.ErrStepUpRequired, "nothing else")

	out, err = ce.companion("unlink", "--passcode", "correct horse")
	require.NoError(t, err)
	assert.Contains(t, out, "Unlinked device")
}

// TestCompanionCLI drives the headless companion against a sandbox server:
// enrol, list and approve a push step-up that another session asked for and
// a confirmation of two sends, decline with "I did not do this", and unlink.
func TestCompanionCLI(t *testing.T) {
	ce := newCompanionEnv(t, core.ProgrammeSettings{Biometrics: true})
	api, corp, dir, companion, requester := ce.api, ce.corp, ce.dir, ce.companion, ce.requester
	ctx := context.Background()

	_, err := companion("pending")
	require.ErrorContains(t, err, "no device enrolled")
	out, err := companion("enrol", "--device-name", "CI runner", "--code", core.SandboxCode, "--passcode", "correct horse", "--json")
	require.NoError(t, err)
	var enrolled map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &enrolled), out)
	assert.Equal(t, "CI runner", enrolled["deviceName"])
	assert.FileExists(t, filepath.Join(dir, "device.json"))
	assert.FileExists(t, filepath.Join(dir, "passcode"))
	keys, err := os.ReadDir(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	assert.Len(t, keys, 1, "one credential file")

	admin := requester()
	up, err := admin.StepUpPush(ctx, "Create user alice@example.com with role ADMIN")
	require.NoError(t, err)
	out, err = companion("pending", "--json")
	require.NoError(t, err)
	var pending []struct {
		ID                   string
		Summary              string
		Choices              []int
		SummaryFromRequester bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pending), out)
	require.Len(t, pending, 1)
	assert.Equal(t, up.ID, pending[0].ID)
	assert.Equal(t, "Create user alice@example.com with role ADMIN", pending[0].Summary)
	assert.True(t, pending[0].SummaryFromRequester, "the requester's own words")
	out, err = companion("pending")
	require.NoError(t, err)
	assert.Contains(t, out, "“Create user alice@example.com with role ADMIN” (the requester's own words)")
	assert.Contains(t, pending[0].Choices, up.Number)

	_, err = companion("approve", "--id", up.ID, "--number", strconv.Itoa(up.Number), "--passcode", "wrong passcode")
	require.ErrorContains(t, err, "user verification failed", "a wrong passcode signs nothing")
	out, err = companion("approve", "--id", up.ID, "--number", strconv.Itoa(up.Number), "--passcode", "correct horse")
	require.NoError(t, err)
	assert.Contains(t, out, "Approved challenge "+up.ID)
	st, err := admin.PushStatus(ctx, up.ID)
	require.NoError(t, err)
	assert.Equal(t, client.PushApproved, st.State)

	// A confirmation: the companion lists every resource's amount and payee,
	// and its approval verifies them.
	for _, r := range []struct {
		id    string
		cents int64
		payee string
	}{{"7001", 1250, "Alice Example"}, {"7002", 300000, "Bob Builder Ltd"}} {
		_, err := api.RegisterResource(ctx, client.ResourceSends, r.id, client.ResourceRegistration{UserID: corp.RootUser.ID.ID,
			Amount: client.Amount{Currency: "EUR", Amount: r.cents}, PayeeName: r.payee, PayeeAccount: "DE89370400440532013000"})
		require.NoError(t, err)
	}
	cp, err := admin.ConfirmPush(ctx, client.ResourceSends, []string{"7001", "7002"})
	require.NoError(t, err)
	out, err = companion("pending")
	require.NoError(t, err)
	assert.Contains(t, out, cp.SCAChallengeID+"  CONFIRM")
	assert.Contains(t, out, "Confirm 2 sends: 12.50 EUR to Alice Example (DE89370400440532013000); 3000.00 EUR to Bob Builder Ltd (DE89370400440532013000)")
	out, err = companion("approve", "--id", cp.SCAChallengeID, "--number", strconv.Itoa(cp.Number), "--passcode", "correct horse")
	require.NoError(t, err)
	assert.Contains(t, out, "Approved challenge "+cp.SCAChallengeID+": Confirm 2 sends: 12.50 EUR to Alice Example")
	for _, id := range []string{"7001", "7002"} {
		res, err := api.Resource(ctx, client.ResourceSends, id)
		require.NoError(t, err)
		assert.Equal(t, client.ResourceVerified, res.State, id)
	}

	// The long poll returns as soon as a challenge arrives.
	type result struct {
		out string
		err error
	}
	polled := make(chan result, 1)
	go func() {
		out, err := companion("pending", "--wait", "20s")
		polled <- result{out, err}
	}()
	intruder := requester()
	up, err = intruder.StepUpPush(ctx, "Change the payout account")
	require.NoError(t, err)
	r := <-polled
	require.NoError(t, r.err)
	assert.Contains(t, r.out, "Change the payout account")

	out, err = companion("decline", "--id", up.ID, "--not-me")
	require.NoError(t, err)
	assert.Contains(t, out, "Every session of the user has ended")
	_, err = intruder.Factors(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized)

	out, err = companion("unlink", "--passcode", "correct horse")
	require.NoError(t, err)
	assert.Contains(t, out, "Unlinked device")
	assert.NoFileExists(t, filepath.Join(dir, "device.json"))
	keys, err = os.ReadDir(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	assert.Empty(t, keys, "the credential is deleted")
	factors, err := requester().Factors(ctx)
	require.NoError(t, err)
	assert.Contains(t, factors, client.Factor{Type: "PUSH", Channel: "BIOMETRIC", Status: client.FactorInactive})
	assert.Contains(t, factors, client.Factor{Type: "OTP", Channel: "SMS", Status: client.FactorActive}, "the enrolment's code enrolled SMS too")
}
