package screens

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/password"
	"github.com/deputyhq/deputy/server/client"
)

// Preference keys of the device.
const (
	prefDeviceID = "device.id"
	prefEnrolled = "device.enrolled" // enrolmentKey of the user this device approves for, "" for none
	// prefEnrolledServer is the server address the enrolment was made at, or
	// the user last confirmed it moved to (MovedScreen).
	prefEnrolledServer = "device.enrolledServer"
	prefRPID           = "device.rpId" // the RP ID of this device's credential
	// prefDeviceSecret is the secret the server gave this device at its
	// enrolment: sessions signed in since speak for the device with it.
	prefDeviceSecret = "device.secret"
)

// watchRetry is how long the companion waits before reopening a push stream
// that failed.
const watchRetry = 5 * time.Second

// Deps are what the companion is built from.
type Deps struct {
	App    fyne.App
	Window fyne.Window
	// Dial connects to a server with a UI key; DialClient() in the app.
	Dial Dialer
	// Auth is the WebAuthn authenticator; nil when this build has none.
	Auth Authenticator
	// Passcode is the app passcode verifier used when there is no platform
	// biometric prompt (desktops); nil when the platform prompt verifies.
	Passcode Passcode
	// Keys is the authenticator's key store, so that keys the server no
	// longer accepts (after an unlink or a new enrolment) are deleted; nil
	// leaves them.
	Keys Keys
	// DeviceName names this device to the server and the admins.
	DeviceName string
	// Clock is the clock; nil for the system clock.
	Clock Clock
	// UI hands a function to the UI goroutine; nil for fyne.Do.
	UI func(func())
	// PushToken returns the push token the platform gave this app
	// (client.PushPlatformFCM or client.PushPlatformAPNs, and the token), or
	// "" for none. Fyne has no API for remote notifications, so the platform
	// shell that registers the app with FCM or APNs supplies it; nil on
	// desktops, where the event stream alone brings approvals.
	PushToken func() (platform, token string)
}

// Keys is what the companion needs of the authenticator's key store
// (*authenticator.FileStore, *authenticator.MemoryStore).
type Keys interface {
	List(rpID string) ([]authenticator.Credential, error)
	Delete(id []byte) error
}

// Companion is the app: it shows one screen at a time in the window and keeps
// the connection, the session and the approvals waiting. All its methods run
// on the UI goroutine.
type Companion struct {
	d   Deps
	env Env

	conn    deeplink.Connect
	api     API
	token   string
	email   string
	userID  string // the signed-in user
	sess    SessionAPI
	push    PushAPI
	pending []client.PushChallenge

	current   Screen
	offline   *widget.Label
	watchStop context.CancelFunc
	watchGen  int
	invite    deeplink.Invite // from a link opened before connecting
}

// New builds the companion; Start shows its first screen.
func New(d Deps) *Companion {
	offline := para("")
	offline.Importance = widget.WarningImportance
	offline.Hide()
	return &Companion{d: d, env: Env{UI: d.UI, Clock: d.Clock}.withDefaults(), offline: offline}
}

// Offline is the banner above every screen while the push stream cannot
// reach the server.
func (c *Companion) Offline() *widget.Label { return c.offline }

// setOnline shows or hides the offline banner.
func (c *Companion) setOnline(online bool) {
	if online {
		c.offline.Hide()
		return
	}
	c.offline.SetText("Offline: cannot reach " + c.conn.Server + ". Approvals arrive when the connection is back; trying again every " + humanDuration(watchRetry) + ".")
	c.offline.Show()
}

// Close stops the companion's background work: the push stream and the
// screen's timers. The app calls it when it stops.
func (c *Companion) Close() {
	c.stopWatch()
	if c.current != nil {
		c.current.Close()
	}
}

// Current is the screen shown.
func (c *Companion) Current() Screen { return c.current }

// show replaces the screen.
func (c *Companion) show(s Screen) {
	if c.current != nil {
		c.current.Close()
	}
	c.current = s
	c.d.Window.SetContent(container.NewBorder(c.offline, nil, nil, nil, s.Content()))
}

// Start shows the first screen: the saved connection's welcome screen, or
// the connect screen. link, when not empty, is a deputy:// link the app was
// opened with.
func (c *Companion) Start(link string) {
	if conn, ok := LoadConnection(c.d.App.Preferences()); ok {
		if api, err := c.d.Dial(conn.Server, conn.Key); err == nil {
			c.conn, c.api = conn, api
		}
	}
	if link != "" && c.OpenLink(link) {
		return
	}
	if c.api == nil {
		c.showConnect(deeplink.Connect{})
		return
	}
	c.showWelcome("")
}

// OpenLink handles a deputy:// link: a connect link opens the connect screen
// filled in, an invite link the invite screen. It reports whether it knew
// the link. Any web page or app can open a link, so a connect link changes
// nothing until the user taps Connect, and Cancel leads back.
func (c *Companion) OpenLink(link string) bool {
	if conn, err := deeplink.ParseConnect(link); err == nil {
		c.showConnect(conn)
		return true
	}
	if inv, err := deeplink.ParseInvite(link); err == nil {
		if c.api == nil {
			c.invite = inv
			c.showConnect(deeplink.Connect{})
			return true
		}
		c.showInvite(inv)
		return true
	}
	return false
}

// showConnect shows the connect screen filled in with prefill (the saved
// connection when zero). Connecting signs out of the server before; while
// there is one to go back to (the user signed in, or connected), Cancel
// leads back to it.
func (c *Companion) showConnect(prefill deeplink.Connect) {
	if prefill == (deeplink.Connect{}) && c.api != nil {
		prefill = c.conn
	}
	s := NewConnectScreen(c.env, c.d.Dial, prefill, func(conn deeplink.Connect, api API) {
		c.signOutLocally()
		c.conn, c.api = conn, api
		SaveConnection(c.d.App.Preferences(), conn)
		if c.invite != (deeplink.Invite{}) {
			inv := c.invite
			c.invite = deeplink.Invite{}
			c.showInvite(inv)
			return
		}
		c.showWelcome("")
	})
	switch {
	case c.sess != nil:
		s.AllowCancel(c.showHome)
	case c.api != nil:
		s.AllowCancel(func() { c.showWelcome("") })
	}
	c.show(s)
}

func (c *Companion) showWelcome(notice string) {
	c.show(NewWelcomeScreen(c.conn.Server, notice, WelcomeActions{
		Invite:     func() { c.showInvite(deeplink.Invite{}) },
		SignIn:     func() { c.showSignIn("") },
		Disconnect: func() { c.showConnect(c.conn) },
	}))
}

func (c *Companion) profile() password.Profile {
	p, ok := password.ProfileByName(c.conn.Policy)
	if !ok {
		p, _ = password.ProfileByName("")
	}
	return p
}

func (c *Companion) showInvite(prefill deeplink.Invite) {
	c.show(NewInviteScreen(c.env, c.api, c.profile(), prefill, func(token, userID string) {
		c.signedIn(token, "", userID)
	}, func() { c.showWelcome("") }))
}

func (c *Companion) showSignIn(notice string) {
	c.show(NewSignInScreen(c.env, c.api, notice, c.email, c.signedIn, func() { c.showWelcome("") }))
}

func (c *Companion) signedIn(token, email, userID string) {
	c.token, c.email, c.userID = token, email, userID
	c.sess = c.api.Session(token)
	c.pending = nil
	c.speakForDevice()
	if c.enrolledFor() && !c.enrolledHere() {
		p := c.d.App.Preferences()
		c.show(NewMovedScreen(p.String(prefEnrolledServer), c.conn.Server, func() {
			p.SetString(prefEnrolledServer, c.conn.Server)
			c.speakForDevice()
			c.showHome()
		}, c.showHome))
		return
	}
	c.showHome()
}

// speakForDevice gives the session the device's secret when this device is
// enrolled for the user at this server, and keeps it from any other.
func (c *Companion) speakForDevice() {
	secret := ""
	if c.enrolledHere() {
		secret = c.d.App.Preferences().String(prefDeviceSecret)
	}
	c.push = c.api.Push(c.token, secret)
}

func (c *Companion) who() string {
	if c.email != "" {
		return "Signed in as " + c.email + "."
	}
	return "You are signed in."
}

func (c *Companion) showHome() {
	info := HomeInfo{Who: c.who(), PushOffered: c.push != nil && c.d.Auth != nil, EnrolledHere: c.enrolledHere(), Pending: len(c.pending)}
	if c.enrolledFor() && !info.EnrolledHere {
		info.EnrolledAt = c.d.App.Preferences().String(prefEnrolledServer)
		if info.EnrolledAt == "" {
			info.EnrolledAt = "an address it did not keep"
		}
	}
	c.show(NewHomeScreen(c.env, c.sess, info, HomeActions{
		SetUpSMS:        c.showSMS,
		SetUpBiometrics: c.showBiometric,
		Unlink:          c.showUnlink,
		Approvals:       c.showApprovals,
		SignOut:         c.signOut,
		Loaded: func([]client.Factor) {
			// The stream itself says when this device was unlinked meanwhile.
			if c.enrolledHere() {
				c.startWatch()
			}
		},
	}, c.sessionEnded))
}

func (c *Companion) showSMS() {
	c.show(NewSMSScreen(c.env, c.sess, c.showHome, c.showHome, c.sessionEnded))
}

func (c *Companion) showBiometric() {
	if c.push == nil || c.d.Auth == nil {
		return
	}
	c.stopWatch() // enrolling again replaces this device's own credential
	c.show(NewBiometricScreen(c.env, BiometricDeps{
		API: c.push, Auth: c.d.Auth, Passcode: c.d.Passcode, Device: c.device(), Origin: c.conn.Origin,
	}, func(en Enrolment) {
		p := c.d.App.Preferences()
		p.SetString(prefEnrolled, c.enrolmentKey())
		p.SetString(prefEnrolledServer, c.conn.Server)
		p.SetString(prefRPID, en.RPID)
		p.SetString(prefDeviceSecret, en.DeviceSecret)
		c.push = c.api.Push(c.token, en.DeviceSecret)
		c.forgetKeys(en.CredentialID) // the server replaced any earlier key of this device
		c.startWatch()
		c.showHome()
	}, c.showHome, c.sessionEnded))
}

func (c *Companion) showUnlink() {
	if c.push == nil {
		return
	}
	// This device's own stream would report the unlink as done elsewhere.
	c.stopWatch()
	c.show(NewUnlinkScreen(c.env, c.sess, c.push, func() {
		c.forgetEnrolment()
		c.pending = nil
		c.showHome()
	}, c.showHome, c.sessionEnded))
}

// forgetEnrolment forgets this device's enrolment: whom and where it
// approved for, its secret and its keys.
func (c *Companion) forgetEnrolment() {
	p := c.d.App.Preferences()
	for _, k := range []string{prefEnrolled, prefEnrolledServer, prefDeviceSecret} {
		p.SetString(k, "")
	}
	c.forgetKeys(nil)
}

// forgetKeys deletes, off the UI goroutine, this device's keys for the
// server's RP ID except keep: the server no longer accepts them. A failure
// only leaves a dead key behind.
func (c *Companion) forgetKeys(keep []byte) {
	rp, keys := c.d.App.Preferences().String(prefRPID), c.d.Keys
	if keys == nil || rp == "" {
		return
	}
	go func() {
		creds, err := keys.List(rp)
		if err != nil {
			fyne.LogError("companion: listing keys", err)
			return
		}
		for _, cr := range creds {
			if !bytes.Equal(cr.ID, keep) {
				if err := keys.Delete(cr.ID); err != nil {
					fyne.LogError("companion: deleting a key the server no longer accepts", err)
				}
			}
		}
	}()
}

// enrolmentKey names what a device enrolment belongs to: the programme (its
// public ui key) and the user, not the server's address, which changes when
// a server moves (or the demo picks a new port) while it still has this
// device. The server has the last word: its stream says when this device is
// no longer the linked one (unlinked).
func (c *Companion) enrolmentKey() string {
	if c.userID == "" {
		return ""
	}
	return c.conn.Key + " " + c.userID
}

// enrolledFor reports whether this device is enrolled for the signed-in
// user of this programme, wherever the server was.
func (c *Companion) enrolledFor() bool {
	k := c.enrolmentKey()
	return k != "" && c.d.App.Preferences().String(prefEnrolled) == k
}

// enrolledHere reports whether it is, and at this server's address: the one
// it was enrolled at, or the user confirmed it moved to (MovedScreen).
func (c *Companion) enrolledHere() bool {
	return c.enrolledFor() && c.d.App.Preferences().String(prefEnrolledServer) == c.conn.Server
}

// device returns this device's id (made once and kept) and name.
func (c *Companion) device() Device {
	p := c.d.App.Preferences()
	id := p.String(prefDeviceID)
	if id == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
		id = hex.EncodeToString(b)
		p.SetString(prefDeviceID, id)
	}
	name := c.d.DeviceName
	if name == "" {
		name = "Deputy companion"
	}
	return Device{ID: id, Name: name}
}

func (c *Companion) showApprovals() {
	if c.push == nil || c.d.Auth == nil {
		return
	}
	c.show(NewApprovalsScreen(c.env, ApprovalsDeps{API: c.push, Auth: c.d.Auth, Origin: c.conn.Origin}, c.pending, ApprovalsActions{
		Answered: c.answered, Back: c.showHome, Expired: c.sessionEnded, Unlinked: c.unlinked,
	}))
}

// answered drops an answered challenge.
func (c *Companion) answered(id string, a Answer) {
	c.drop(id)
	if a == NotMe {
		// The server ended every session of the user, this one included.
		c.endSession()
		c.showSignInAfter("You said you did not start that request: nothing was approved, you were signed out on every device and your admin was alerted. Sign in again when you are ready; if someone may know your password, ask your admin to reset it.")
	}
}

func (c *Companion) drop(id string) {
	rest := c.pending[:0:0]
	for _, p := range c.pending {
		if p.ID != id {
			rest = append(rest, p)
		}
	}
	c.pending = rest
}

// startWatch opens the push stream, first reading what is already pending.
func (c *Companion) startWatch() {
	if c.push == nil || c.watchStop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.watchStop = cancel
	c.watchGen++
	gen, push, ui, device := c.watchGen, c.push, c.env.UI, c.device().ID
	go func() {
		list, err := push.PendingPush(ctx, device, 0)
		if err == nil {
			c.registerPushToken(ctx, push, device)
			ui(func() {
				if gen == c.watchGen {
					c.setOnline(true)
					c.setPending(list)
				}
			})
			err = push.WatchPush(ctx, device, func(ev client.PushEvent) {
				ui(func() {
					if gen == c.watchGen {
						c.onEvent(ev)
					}
				})
			})
		}
		if ctx.Err() != nil {
			return
		}
		ui(func() {
			if gen == c.watchGen {
				c.watchFailed(err)
			}
		})
	}()
}

// registerPushToken gives the server the platform's push token, if any, for
// this device, which the server has just confirmed is the linked one, so that
// a relay wakes the app when it holds no stream open. A failure is left for
// the next time the stream opens: the stream works without it.
func (c *Companion) registerPushToken(ctx context.Context, push PushAPI, device string) {
	if c.d.PushToken == nil {
		return
	}
	if platform, token := c.d.PushToken(); token != "" {
		_ = push.RegisterPushToken(ctx, device, platform, token)
	}
}

func (c *Companion) stopWatch() {
	c.watchGen++
	if c.watchStop != nil {
		c.watchStop()
		c.watchStop = nil
	}
}

// watchFailed handles the end of a push stream: this device unlinked, the
// session over, or a failure to retry after a pause.
func (c *Companion) watchFailed(err error) {
	c.watchStop = nil
	var ae *client.Error
	switch {
	case errors.As(err, &ae) && ae.Code == client.CodeChannelNotRegistered:
		c.unlinked()
		return
	case err != nil && describe(err).SessionEnded:
		c.sessionEnded(describe(err))
		return
	case err != nil && describe(err).Retry:
		c.setOnline(false)
	}
	gen := c.watchGen
	c.env.Clock.AfterFunc(watchRetry, func() {
		c.env.UI(func() {
			if gen == c.watchGen && c.sess != nil && c.enrolledHere() {
				c.startWatch()
			}
		})
	})
}

func (c *Companion) setPending(list []client.PushChallenge) {
	c.pending = list
	c.pendingChanged(len(list) > 0)
}

func (c *Companion) onEvent(ev client.PushEvent) {
	switch ev.Type {
	case client.EventUnlinked:
		c.unlinked()
	case client.EventChallenge:
		if ev.Challenge == nil {
			return
		}
		c.drop(ev.Challenge.ID)
		c.pending = append(c.pending, *ev.Challenge)
		c.d.App.SendNotification(fyne.NewNotification("Approval requested", summaryText(*ev.Challenge)))
		c.pendingChanged(true)
	case client.EventResolved:
		if ev.Resolved == nil {
			return
		}
		c.drop(ev.Resolved.ID)
		c.pendingChanged(false)
	}
}

// pendingChanged updates the screen shown; arrived says a new challenge came,
// which brings the approvals screen forward from the home screen.
func (c *Companion) pendingChanged(arrived bool) {
	switch s := c.current.(type) {
	case *ApprovalsScreen:
		s.SetPending(c.pending)
	case *HomeScreen:
		if arrived {
			c.showApprovals()
			return
		}
		s.SetPending(len(c.pending))
	}
}

// unlinked follows another device replacing this one: the server ended this
// device's sessions with its link (the revocation policy), so the companion
// forgets its session too, and using this device again starts by signing in.
func (c *Companion) unlinked() {
	c.endSession()
	c.forgetEnrolment()
	c.show(NewUnlinkedScreen(
		func() { c.showSignInAfter("Sign in again, then set up approvals on this device.") },
		func() { c.showSignInAfter("") }))
}

// sessionEnded takes the user back to sign in after a 401.
func (c *Companion) sessionEnded(p Problem) {
	c.endSession()
	c.showSignInAfter(p.Text)
}

func (c *Companion) showSignInAfter(notice string) {
	if c.api == nil {
		c.showConnect(deeplink.Connect{})
		return
	}
	c.showSignIn(notice)
}

// endSession forgets the session without calling the server.
func (c *Companion) endSession() {
	c.stopWatch()
	c.setOnline(true) // no stream, nothing to claim
	c.token, c.sess, c.push, c.pending = "", nil, nil, nil
}

func (c *Companion) signOutLocally() {
	if c.sess != nil {
		sess := c.sess
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			_ = sess.Logout(ctx) // best effort: the token is forgotten anyway
		}()
	}
	c.endSession()
}

// signOut ends the session on the server and here.
func (c *Companion) signOut() {
	sess := c.sess
	c.endSession()
	if sess == nil {
		c.showWelcome("")
		return
	}
	run0(c.env, sess.Logout, func(err error) {
		notice := "You are signed out."
		if err != nil && !describe(err).SessionEnded {
			notice = "You are signed out on this device. The server could not be told (" + describe(err).Text + "); the session ends by itself within minutes."
		}
		c.showWelcome(notice)
	})
}
