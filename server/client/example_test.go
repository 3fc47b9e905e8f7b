package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/server/client"
)

// Example signs a user in and reads their corporate.
func Example() {
	deputy := startExampleDeputy() // an in-process sandbox Deputy with one corporate
	defer deputy.close()
	ctx := context.Background()

	c, err := client.New(deputy.url, deputy.apiKey, client.WithUserAgent("deputy-example/1"))
	if err != nil {
		log.Fatal(err)
	}
	login, err := c.LoginWithPassword(ctx, "ada@acme.test", "Str0ng-Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	s := c.Session(login.Token)
	defer s.Logout(ctx)

	corp, err := s.Corporate(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(login.Credentials.Type, login.Identity.Type, corp.Company.Name)
	// Output: ROOT CORPORATE Acme Ltd
}

// ExampleSession_StepUpSMS steps a session up with an SMS one-time password
// on a sandbox server, where nothing is really sent: the text lands in the
// outbox, and every code is 123456.
func ExampleSession_StepUpSMS() {
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
	s := c.Session(login.Token)

	if err := s.StepUpSMS(ctx); err != nil {
		log.Fatal(err)
	}
	sent, err := c.Outbox(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("code sent by", sent[0].Channel, "to", sent[0].To)
	if err := s.VerifyStepUpSMS(ctx, "123456"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stepped up")
	// Output:
	// code sent by SMS to +447700900123
	// stepped up
}

// ExampleSession_CreateUser creates an authorised user the way the admin TUI
// does: when the server asks for a step-up, pass the challenge and repeat the
// call with the same idempotency ref, so that it cannot run twice.
func ExampleSession_CreateUser() {
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
	s := c.Session(login.Token)

	grace := client.UserCreate{
		Name: "Grace", Surname: "Hopper", Email: "grace@acme.test",
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"},
		Roles:  []string{client.RoleAccessManagement},
	}
	ref := client.NewIdempotencyRef()
	u, err := s.CreateUser(ctx, grace, client.IdempotencyRef(ref))
	if errors.Is(err, client.ErrStepUpRequired) {
		fmt.Println(err)
		// The TUI prompts for the texted code here; the sandbox's is 123456.
		if err := s.StepUpSMS(ctx); err != nil {
			log.Fatal(err)
		}
		if err := s.VerifyStepUpSMS(ctx, "123456"); err != nil {
			log.Fatal(err)
		}
		u, err = s.CreateUser(ctx, grace, client.IdempotencyRef(ref))
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", u.Name, u.Surname, u.Roles)
	if err := s.SendInvite(ctx, u.ID); err != nil {
		log.Fatal(err)
	}
	// Output:
	// create user: step-up required
	// created Grace Hopper [ACCESS_MANAGEMENT_ROLE]
}

// ExampleSession_ListUsers pages through the identity's active access managers.
func ExampleSession_ListUsers() {
	deputy := startExampleDeputy()
	defer deputy.close()
	ctx := context.Background()
	c, err := client.New(deputy.url, deputy.apiKey)
	if err != nil {
		log.Fatal(err)
	}
	s := c.Session(deputy.steppedUpToken) // a session that may create users
	for _, name := range []string{"Grace", "Alan", "Edsger"} {
		_, err := s.CreateUser(ctx, client.UserCreate{Name: name, Surname: "Example", Email: name + "@acme.test", Roles: []string{client.RoleAccessManagement}})
		if err != nil {
			log.Fatal(err)
		}
	}

	active := true
	filter := client.UserFilter{Active: &active, Roles: []string{client.RoleAccessManagement}, Limit: 2}
	for {
		page, err := s.ListUsers(ctx, filter)
		if err != nil {
			log.Fatal(err)
		}
		for _, u := range page.Users {
			fmt.Println(u.Name, u.Email)
		}
		filter.Offset += page.ResponseCount
		if page.ResponseCount == 0 || filter.Offset >= page.Count {
			break
		}
	}
	// Output:
	// Grace grace@acme.test
	// Alan alan@acme.test
	// Edsger edsger@acme.test
}

// ExampleSession_ResetUserDevice is an admin's answer to a user's lost phone:
// the user's factors wait for a new enrolment and their sessions end.
func ExampleSession_ResetUserDevice() {
	deputy := startExampleDeputy()
	defer deputy.close()
	ctx := context.Background()
	c, err := client.New(deputy.url, deputy.apiKey)
	if err != nil {
		log.Fatal(err)
	}
	admin := c.Session(deputy.steppedUpToken) // resetting a device needs a stepped-up session
	grace, err := admin.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "grace@acme.test",
		Mobile: &client.Mobile{CountryCode: "+44", Number: "7700900456"}, Roles: []string{client.RoleCardAssignee}})
	if err != nil {
		log.Fatal(err)
	}
	set, err := c.CreatePassword(ctx, grace.ID, "Str0ng-Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	phone := c.Session(set.Token)
	if err := phone.EnrolSMS(ctx); err != nil {
		log.Fatal(err)
	}
	if err := phone.VerifyEnrolSMS(ctx, "123456"); err != nil {
		log.Fatal(err)
	}

	if err := admin.ResetUserDevice(ctx, grace.ID); err != nil {
		log.Fatal(err)
	}
	_, err = phone.Factors(ctx)
	fmt.Println("old session:", errors.Is(err, client.ErrUnauthorized))
	login, err := c.LoginWithPassword(ctx, "grace@acme.test", "Str0ng-Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	factors, err := c.Session(login.Token).Factors(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(factors)
	// Output:
	// old session: true
	// [{OTP SMS INACTIVE}]
}

// ExampleError reads the details of a failed call.
func ExampleError() {
	deputy := startExampleDeputy()
	defer deputy.close()
	ctx := context.Background()
	c, err := client.New(deputy.url, deputy.apiKey)
	if err != nil {
		log.Fatal(err)
	}
	s := c.Session(deputy.steppedUpToken)

	_, err = s.CreateUser(ctx, client.UserCreate{Name: "Grace", Surname: "Hopper", Email: "not an email"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, client.ErrInvalid))
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Fields[0].Field, apiErr.Fields[0].Reason)
	}
	// Output:
	// create user: invalid field email (REGEX)
	// true
	// 400 email REGEX
}

// exampleDeputy is an in-process sandbox Deputy for the examples: one
// programme with a corporate whose root user (ada@acme.test, password
// Str0ng-Passw0rd, mobile +447700900123) has an active SMS factor.
type exampleDeputy struct {
	url, apiKey    string
	steppedUpToken string // the root user's session that enrolled the factor
	tb             *exampleTB
}

func (d *exampleDeputy) close() { d.tb.cleanup() }

// startExampleDeputy starts an exampleDeputy. Examples have no *testing.T, so
// it hands testserver.Start a stand-in that provides the methods Start uses.
func startExampleDeputy() *exampleDeputy {
	tb := &exampleTB{}
	inst := testserver.Start(tb, testserver.Options{})
	d := &exampleDeputy{url: inst.URL, apiKey: inst.APIKey, tb: tb}
	ctx := context.Background()
	c, err := client.New(inst.URL, inst.APIKey)
	if err != nil {
		tb.Fatalf("client: %v", err)
	}
	corp, err := c.CreateCorporate(ctx, client.CorporateCreate{
		RootUser: client.CorporateRootUserCreate{Name: "Ada", Surname: "Lovelace", Email: "ada@acme.test",
			Mobile: client.Mobile{CountryCode: "+44", Number: "7700900123"}, CompanyPosition: "DIRECTOR"},
		Company:   client.CompanyCreate{Name: "Acme Ltd", Type: "LLC", RegistrationCountry: "GB"},
		ProfileID: "1", IPAddress: "192.0.2.1", BaseCurrency: "GBP",
	})
	if err != nil {
		tb.Fatalf("create corporate: %v", err)
	}
	pw, err := c.CreatePassword(ctx, corp.RootUser.ID.ID, "Str0ng-Passw0rd")
	if err != nil {
		tb.Fatalf("create password: %v", err)
	}
	s := c.Session(pw.Token)
	if err := s.EnrolSMS(ctx); err != nil {
		tb.Fatalf("enrol: %v", err)
	}
	if err := s.VerifyEnrolSMS(ctx, "123456"); err != nil {
		tb.Fatalf("verify enrolment: %v", err)
	}
	d.steppedUpToken = s.Token()
	return d
}

// exampleTB stands in for a *testing.T outside tests. The embedded interface
// is nil: a testing.TB method not defined below panics, which an example run
// reports as a failure.
type exampleTB struct {
	testing.TB
	dirs     []string
	cleanups []func()
}

func (tb *exampleTB) Helper() {}

func (tb *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "deputy-example-")
	if err != nil {
		tb.Fatalf("temp dir: %v", err)
	}
	tb.dirs = append(tb.dirs, dir)
	return dir
}

func (tb *exampleTB) Cleanup(f func()) { tb.cleanups = append(tb.cleanups, f) }

func (tb *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (tb *exampleTB) cleanup() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	for _, dir := range tb.dirs {
		os.RemoveAll(dir)
	}
}
