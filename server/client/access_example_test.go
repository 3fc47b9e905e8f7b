package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deputyhq/deputy/server/client"
)

// ExampleSession_AccessToken follows Weavr's advice to every client: sign
// in, list the identities the credentials reach, and exchange the sign-in's
// token for an access token of one of them.
func ExampleSession_AccessToken() {
	deputy := startExampleDeputy()
	defer deputy.close()
	ctx := context.Background()
	c, err := client.New(deputy.url, deputy.apiKey)
	if err != nil {
		log.Fatal(err)
	}
	login, err := c.LoginWithPassword(ctx, "ada@acme.test", "Str0ng-Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	auth := c.Session(login.Token)
	page, err := auth.Identities(ctx, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	at, err := auth.AccessToken(ctx, &page.Identities[0].ID)
	if err != nil {
		log.Fatal(err)
	}
	corp, err := c.Session(at.Token).Corporate(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(page.Count, page.Identities[0].Name, at.Status, corp.Company.Name)
	// Output: 1 Acme Ltd STANDARD Acme Ltd
}
