package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// ExampleSession_StepUpPush steps a session up on the user's companion device:
// the companion (here the pure-Go authenticator in the same process) enrols
// once, then approves the challenge that names the operation, picking the
// number the requesting screen shows.
func ExampleSession_StepUpPush() {
	tb := &exampleTB{}
	defer tb.cleanup()
	inst := testserver.Start(tb, testserver.Options{Programme: core.NewProgramme{Name: "Acme Pay", Settings: core.ProgrammeSettings{Biometrics: true}}})
	ctx := context.Background()
	api, _ := client.New(inst.URL, inst.APIKey)
	corp, err := api.CreateCorporate(ctx, client.CorporateCreate{
		RootUser:  client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test", Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := api.CreatePassword(ctx, corp.RootUser.ID.ID, "Str0ng-Passw0rd"); err != nil {
		log.Fatal(err)
	}
	ui, _ := client.New(inst.URL, inst.UIKey)
	signIn := func() *client.Session {
		l, err := ui.LoginWithPassword(ctx, "ada@acme.test", "Str0ng-Passw0rd")
		if err != nil {
			log.Fatal(err)
		}
		return ui.Session(l.Token)
	}

	// The companion enrols: an SMS code (123456 in sandbox) and a WebAuthn registration.
	phone := signIn()
	yes := authenticator.UserVerifierFunc(func(context.Context, string) (bool, error) { return true, nil })
	auth, _ := authenticator.New(authenticator.Config{}, authenticator.NewMemoryStore(), yes)
	options, err := phone.BeginBiometricEnrolment(ctx, "phone-1", "Ada's phone")
	if err != nil {
		log.Fatal(err)
	}
	reg, _ := authenticator.ParseCreationOptions(options, "https://localhost")
	att, err := auth.Register(ctx, reg)
	if err != nil {
		log.Fatal(err)
	}
	deviceSecret, err := phone.FinishBiometricEnrolment(ctx, "123456", att)
	if err != nil {
		log.Fatal(err)
	}
	// Keep deviceSecret with the credential: a session the phone signs in
	// with later speaks for it with phone.WithDeviceSecret(deviceSecret).
	_ = deviceSecret

	// An admin screen asks for a push step-up and shows up.Number.
	admin := signIn()
	up, err := admin.StepUpPush(ctx, "Create user alice@example.com with role ADMIN")
	if err != nil {
		log.Fatal(err)
	}

	// The companion shows the pending challenge, the user picks the number and
	// verifies themselves, and the companion signs the challenge's options.
	pending, err := phone.PendingPush(ctx, "phone-1", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the phone shows:", pending[0].Summary)
	reqOptions, err := phone.PushOptions(ctx, pending[0].ID)
	if err != nil {
		log.Fatal(err)
	}
	req, _ := authenticator.ParseRequestOptions(reqOptions, "https://localhost")
	assertion, err := auth.Assert(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	if err := phone.ApprovePush(ctx, pending[0].ID, up.Number, assertion); err != nil {
		log.Fatal(err)
	}

	st, err := admin.PushStatus(ctx, up.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the admin's challenge is", st.State)
	// Output:
	// the phone shows: Create user alice@example.com with role ADMIN
	// the admin's challenge is APPROVED
}
