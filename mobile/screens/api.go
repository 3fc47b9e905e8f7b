package screens

import (
	"context"

	"github.com/deputyhq/deputy/server/client"
)

// KeyAPI is what the screens call with the programme's public UI key alone,
// before anybody has signed in. *client.Client implements it.
type KeyAPI interface {
	// LoginWithPassword signs a user in (Weavr loginWithPassword).
	LoginWithPassword(ctx context.Context, email, password string) (*client.Login, error)
	// InviteValidate checks an invite code without using it (Weavr userInviteValidate).
	InviteValidate(ctx context.Context, userID, code string) error
	// InviteConsume sets the invited user's password and optional mobile,
	// returning a session token (Weavr userInviteConsume).
	InviteConsume(ctx context.Context, userID, code, password string, mobile *client.Mobile, opts ...client.CallOption) (string, error)
	// ValidatePassword checks a candidate against the programme's password
	// rules (Weavr passwordValidate); the connect screen uses it to check
	// the key.
	ValidatePassword(ctx context.Context, password string) error
}

// SessionAPI is what the screens call on behalf of the signed-in user.
// *client.Session implements it.
type SessionAPI interface {
	// Factors lists the user's second factors (Weavr authFactorsGet).
	Factors(ctx context.Context) ([]client.Factor, error)
	// EnrolSMS texts a code to the user's mobile (Weavr enrolDeviceUsingOtpStepOne).
	EnrolSMS(ctx context.Context, opts ...client.CallOption) error
	// VerifyEnrolSMS activates the SMS factor with the code (Weavr enrolDeviceUsingOtpStepTwo).
	VerifyEnrolSMS(ctx context.Context, code string, opts ...client.CallOption) error
	// StepUpSMS texts a step-up code (Weavr stepupSCAChallenge).
	StepUpSMS(ctx context.Context, opts ...client.CallOption) error
	// VerifyStepUpSMS steps the session up with the code (Weavr stepupSCAVerify).
	VerifyStepUpSMS(ctx context.Context, code string, opts ...client.CallOption) error
	// Logout ends the session (Weavr logout).
	Logout(ctx context.Context) error
	// Info reads the session's numbers: a code's life, attempts and resend
	// time (Deputy sessionGet), so screens show the server's, never their own.
	Info(ctx context.Context) (*client.SessionInfo, error)
}

// API is a connection to one Deputy server with one programme's UI key.
type API interface {
	KeyAPI
	// Session returns the calls made with the user's token. It makes no call.
	Session(token string) SessionAPI
	// Push returns the biometric and push step-up calls made with the
	// user's token and this device's secret (none before its enrolment),
	// or nil when they are not offered.
	Push(token, deviceSecret string) PushAPI
}

// Dialer makes an API for a server address and UI key; [DialClient] is the real one.
type Dialer func(server, key string) (API, error)

// DialClient is the [Dialer] of the app: the typed client of server/client.
func DialClient(opts ...client.Option) Dialer {
	return func(server, key string) (API, error) {
		c, err := client.New(server, key, opts...)
		if err != nil {
			return nil, err
		}
		return clientAPI{c}, nil
	}
}

// clientAPI adapts *client.Client to API.
type clientAPI struct{ *client.Client }

func (c clientAPI) Session(token string) SessionAPI { return c.Client.Session(token) }

func (c clientAPI) Push(token, deviceSecret string) PushAPI {
	return sessionPush{c.Client.Session(token).WithDeviceSecret(deviceSecret)}
}

var (
	_ KeyAPI     = (*client.Client)(nil)
	_ SessionAPI = (*client.Session)(nil)
	_ API        = clientAPI{}
)
