// Command companion is Deputy's mobile companion app (Fyne, issue 8): an
// invited user accepts their invite, signs in, enrols their mobile for SMS
// codes and this device for biometric approvals, and approves the step-ups
// that an admin's sensitive operations ask for.
//
// It builds for desktops (go build ./mobile; make mobile), where it runs in a
// phone-sized window and verifies the user with an app passcode, and for
// Android and iOS with the fyne packaging tool (see the README, "The companion
// app"). `go run -tags mobile ./mobile` shows the phone form factor on a
// desktop. A deputy:// link given as the first argument is opened at start:
//
//	companion 'deputy://connect?server=http%3A%2F%2F127.0.0.1%3A8080&key=dpk_...'
//	companion 'deputy://invite?userId=123&code=123456'
//
// The screens live in package screens; the WebAuthn authenticator in package
// authenticator. The app talks to the server only through server/client.
package main

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

// AppID is the app's unique id: its preferences, storage and the Android
// package and iOS bundle id.
const AppID = "dev.deputy.companion"

// iconPNG is assets/icon.png (drawn by internal/makeicon; a test checks the
// two copies are the same).
//
//go:embed icon.png
var iconPNG []byte

func main() {
	start := time.Now()
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(screens.Theme())
	a.SetIcon(fyne.NewStaticResource("icon.png", iconPNG))
	w := a.NewWindow("Deputy")
	w.Resize(fyne.NewSize(400, 760)) // a phone's proportions; ignored on phones
	w.SetMaster()

	prompt := screens.NewPasscodeDialog(w, nil)
	auth, keys, passcode, err := newAuthenticator(a.Storage().RootURI().Path(), prompt.Prompt)
	if err != nil {
		// The app still connects, accepts invites and enrols SMS; only the
		// biometric screens need the authenticator.
		fyne.LogError("companion: authenticator unavailable", err)
	}
	deps := screens.Deps{
		App:        a,
		Window:     w,
		Dial:       screens.DialClient(client.WithUserAgent("deputy-companion/1")),
		Passcode:   passcode,
		DeviceName: deviceName(),
	}
	if auth != nil {
		deps.Auth, deps.Keys = auth, keys
	}
	c := screens.New(deps)
	link := ""
	if len(os.Args) > 1 {
		link = os.Args[1]
	}
	c.Start(link)
	a.Lifecycle().SetOnStopped(c.Close)
	if os.Getenv("DEPUTY_COMPANION_TIMING") != "" {
		// For measuring cold start: the first screen is laid out and the
		// window is on screen when the app reports it has started.
		a.Lifecycle().SetOnStarted(func() {
			fmt.Fprintf(os.Stderr, "companion: first screen shown %d ms after main started\n", time.Since(start).Milliseconds())
		})
	}
	w.ShowAndRun()
}

// newAuthenticator opens the credential store and the user verifier under
// the app's storage directory.
func newAuthenticator(dir string, prompt authenticator.PasscodePrompt) (*authenticator.Authenticator, *authenticator.FileStore, screens.Passcode, error) {
	store, err := authenticator.OpenFileStore(filepath.Join(dir, "credentials"))
	if err != nil {
		return nil, nil, nil, err
	}
	verifier, passcode, err := userVerifier(dir, prompt)
	if err != nil {
		return nil, nil, nil, err
	}
	auth, err := authenticator.New(authenticator.Config{}, store, verifier)
	if err != nil {
		return nil, nil, nil, err
	}
	return auth, store, passcode, nil
}

func deviceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" || host == "localhost" {
		return "Deputy companion (" + platformName + ")"
	}
	return "Deputy companion on " + host + " (" + platformName + ")"
}
