package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// ExampleSession_ConfirmSMS confirms two sends with one texted code: the
// embedder's backend registers them (secret key), the user's app asks for
// the code and verifies it, and the backend reads them VERIFIED.
func ExampleSession_ConfirmSMS() {
	tb := &exampleTB{}
	defer tb.cleanup()
	inst := testserver.Start(tb, testserver.Options{})
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
	ada := corp.RootUser.ID.ID
	set, err := api.CreatePassword(ctx, ada, "Str0ng-Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	app := api.Session(set.Token)
	if err := app.EnrolSMS(ctx); err != nil {
		log.Fatal(err)
	}
	if err := app.VerifyEnrolSMS(ctx, "123456"); err != nil {
		log.Fatal(err)
	}

	// The backend registers what Ada must confirm.
	for id, payee := range map[string]string{"7001": "Alice Example", "7002": "Bob Builder Ltd"} {
		_, err := api.RegisterResource(ctx, client.ResourceSends, id, client.ResourceRegistration{
			UserID: ada, Amount: client.Amount{Currency: "GBP", Amount: 1250}, PayeeName: payee, PayeeAccount: "GB29NWBK60161331926819"})
		if err != nil {
			log.Fatal(err)
		}
	}

	// Ada's app asks for one code over both and verifies it (123456 in sandbox).
	challenge, err := app.ConfirmSMS(ctx, client.ResourceSends, []string{"7001", "7002"})
	if err != nil {
		log.Fatal(err)
	}
	if err := app.VerifyConfirmSMS(ctx, challenge, client.ResourceSends, "123456"); err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"7001", "7002"} {
		r, err := api.Resource(ctx, client.ResourceSends, id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.ID, r.PayeeName, r.State)
	}
	// Output:
	// 7001 Alice Example VERIFIED
	// 7002 Bob Builder Ltd VERIFIED
}
