// Package screens is the user interface of Deputy's mobile companion (issue 8):
// one struct per screen, each holding its widgets and built from injected
// dependencies, and a [Companion] that moves between them.
//
// The screens are:
//
//   - [ConnectScreen]: the Deputy server and the programme's public UI key,
//     typed or taken from a deputy://connect link (package deeplink);
//   - [WelcomeScreen]: accept an invite or sign in;
//   - [InviteScreen]: the user id and 6-digit code from the invite (typed or
//     from a deputy://invite link), a new password with the programme's
//     policy ticked off live, an optional mobile number (Weavr
//     userInviteValidate, userInviteConsume);
//   - [SignInScreen]: email and password (Weavr loginWithPassword);
//   - [HomeScreen]: the signed-in user's factors and what to do next;
//   - [SMSScreen]: enrol the mobile for one-time codes, with the resend
//     countdown, the attempts left and the code's expiry (Weavr
//     enrolDeviceUsingOtpStepOne/StepTwo);
//   - [BiometricScreen]: bind this device's WebAuthn credential, saying
//     plainly that any other device is unlinked, with the user-verification
//     prompt (an app passcode on desktops, [PasscodeDialog]) (issue 6,
//     enrolDeviceUsingPush);
//   - [ApprovalsScreen]: pending push step-ups: the operation's summary, the
//     number shown on the requesting screen picked among three, approve or
//     "I did not do this";
//   - [UnlinkedScreen]: this device was unlinked elsewhere;
//   - [UnlinkScreen]: stop approvals on this device (Weavr
//     unlinkDeviceUsingPush), stepping the session up with an SMS code first
//     when the server asks for it.
//
// # Threads
//
// Widgets are touched only on the UI goroutine. API calls, hashing and the
// WebAuthn ceremonies run on their own goroutines and hand their results back
// through the injected UI function, which is fyne.Do in the app. Tests inject
// a queue that the test goroutine drains, so that every widget is read and
// written on one goroutine and `go test -race` has nothing to report. Fyne's
// own test driver runs a fyne.Do callback at once on the goroutine that calls
// it, which would let a background goroutine write widgets that the test
// goroutine reads at the same time.
//
// Time comes from an injected [Clock], so countdowns are tested by moving a
// manual clock, never by sleeping. No package-level variable changes after
// start-up.
//
// The package talks to the server only through server/client, behind the
// interfaces [KeyAPI], [SessionAPI] and [PushAPI] that it defines as their
// consumer ([DialClient] adapts the typed client; tests inject fakes), and
// never imports core or storage. Push challenges arrive over the server-sent
// event stream, with long-polling when the stream cannot be opened.
package screens
