package screens

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/server/client"
)

// Preference keys of the saved connection.
const (
	prefServer = "connection.server"
	prefKey    = "connection.uiKey"
	prefPolicy = "connection.policy"
	prefOrigin = "connection.origin"
)

// LoadConnection reads the saved connection; ok is false when there is none
// (or what is saved no longer passes the checks).
func LoadConnection(p fyne.Preferences) (c deeplink.Connect, ok bool) {
	c = deeplink.Connect{Server: p.String(prefServer), Key: p.String(prefKey), Policy: p.String(prefPolicy), Origin: p.String(prefOrigin)}
	if c.Server == "" || c.Validate() != nil {
		return deeplink.Connect{}, false
	}
	return c, true
}

// SaveConnection remembers c in the app's preferences.
func SaveConnection(p fyne.Preferences, c deeplink.Connect) {
	p.SetString(prefServer, c.Server)
	p.SetString(prefKey, c.Key)
	p.SetString(prefPolicy, c.Policy)
	p.SetString(prefOrigin, c.Origin)
}

// ForgetConnection removes the saved connection.
func ForgetConnection(p fyne.Preferences) {
	p.RemoveValue(prefServer)
	p.RemoveValue(prefKey)
	p.RemoveValue(prefPolicy)
	p.RemoveValue(prefOrigin)
}

// ConnectScreen asks which Deputy server and programme to use: the server's
// address and the programme's public UI key, typed or pasted, or a
// deputy://connect link (the admin's console shows it as a QR code).
type ConnectScreen struct {
	Link     *widget.Entry
	LinkHint *widget.Label
	Server   *widget.Entry
	Key      *widget.Entry
	KeyHint  *widget.Label
	Connect  *widget.Button
	Cancel   *widget.Button // hidden unless AllowCancel
	Problem  *ProblemBox
	busy     busy
	content  fyne.CanvasObject
	env      Env
	dial     Dialer
	policy   string // from the link: not typed
	origin   string // from the link: not typed
	// filled is what the link last filled the fields with, taken back when
	// the link stops being one (a link typed character by character is a
	// link at times before it is whole).
	filled    deeplink.Connect
	connected func(deeplink.Connect, API)
}

// NewConnectScreen builds the screen; connected runs on the UI goroutine once
// the server has answered with the key accepted. prefill, when not zero, fills
// the fields (the saved connection, or a link the app was opened with).
func NewConnectScreen(e Env, dial Dialer, prefill deeplink.Connect, connected func(deeplink.Connect, API)) *ConnectScreen {
	s := &ConnectScreen{env: e.withDefaults(), dial: dial, connected: connected, policy: prefill.Policy, origin: prefill.Origin}
	s.Link = widget.NewEntry()
	s.Link.SetPlaceHolder("deputy://connect?server=…&key=…")
	s.LinkHint = para("")
	s.LinkHint.Hide()
	s.Server = widget.NewEntry()
	s.Server.SetPlaceHolder("https://auth.example.com")
	s.Server.SetText(prefill.Server)
	s.Key = widget.NewEntry()
	s.Key.SetPlaceHolder("dpk_…")
	s.Key.SetText(prefill.Key)
	s.KeyHint = para("")
	s.KeyHint.Importance = widget.DangerImportance
	s.KeyHint.Hide()
	s.Connect = primary("Connect", s.submit)
	s.Cancel = widget.NewButton("Cancel", nil)
	s.Cancel.Hide()
	s.Problem = newProblemBox()
	s.busy = newBusy()

	s.Link.OnChanged = s.linkChanged
	s.Key.OnChanged = func(string) { s.checkKey() }
	s.Server.OnChanged = func(string) { s.Problem.Hide() }
	s.Link.OnSubmitted = func(string) { s.submit() }
	s.Key.OnSubmitted = func(string) { s.submit() }

	s.content = page("Connect to Deputy",
		para("Paste the link your admin gave you, or type the server address and the programme's public UI key."),
		fieldLabel("Link"), s.Link, s.LinkHint,
		para("Or type them in:"),
		fieldLabel("Server address"), s.Server,
		fieldLabel("UI key"), s.Key, s.KeyHint,
		s.Connect, s.Cancel, s.busy, s.Problem.Object(),
	)
	s.checkKey()
	return s
}

// AllowCancel shows a Cancel button that runs back: the way out of a
// connection the user did not ask for, such as one a link opened.
func (s *ConnectScreen) AllowCancel(back func()) {
	s.Cancel.OnTapped = back
	s.Cancel.Show()
}

// Content implements Screen.
func (s *ConnectScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *ConnectScreen) Close() {}

func (s *ConnectScreen) linkChanged(text string) {
	s.Problem.Hide()
	text = strings.TrimSpace(text)
	c, err := deeplink.ParseConnect(text)
	if err != nil || text == "" {
		s.takeBackLink()
	}
	switch {
	case text == "":
		s.LinkHint.Hide()
	case errors.Is(err, deeplink.ErrSecretKey):
		s.showHint(s.LinkHint, widget.DangerImportance, "This link holds a secret API key. Never put it on a phone: ask your admin for the companion link, which carries the public UI key (dpk_…).")
	case err != nil:
		s.showHint(s.LinkHint, widget.DangerImportance, "This is not a Deputy connect link: "+linkReason(err))
	default:
		s.Server.SetText(c.Server)
		s.Key.SetText(c.Key)
		s.policy, s.origin, s.filled = c.Policy, c.Origin, c
		s.showHint(s.LinkHint, widget.SuccessImportance, "Link read. Check the server address, then tap Connect.")
		s.checkKey()
	}
}

// takeBackLink empties the fields a link filled that still hold what it
// put there.
func (s *ConnectScreen) takeBackLink() {
	if s.filled == (deeplink.Connect{}) {
		return
	}
	if s.Server.Text == s.filled.Server {
		s.Server.SetText("")
	}
	if s.Key.Text == s.filled.Key {
		s.Key.SetText("")
	}
	s.policy, s.origin, s.filled = "", "", deeplink.Connect{}
}

// showHint shows text under a field, and lays the page out again: the
// window does so for a label that appears, not for one whose text grows
// while shown, which would then overlap what follows it.
func (s *ConnectScreen) showHint(l *widget.Label, importance widget.Importance, text string) {
	l.Importance = importance
	l.SetText(text)
	l.Show()
	if s.content != nil {
		s.content.Refresh()
	}
}

// linkReason is the part of a deeplink error after the class.
func linkReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// checkKey refuses a secret key as soon as it is typed.
func (s *ConnectScreen) checkKey() bool {
	s.Problem.Hide()
	key := strings.TrimSpace(s.Key.Text)
	if err := deeplink.CheckUIKey(key); errors.Is(err, deeplink.ErrSecretKey) {
		s.showHint(s.KeyHint, widget.DangerImportance, "This is the programme's secret API key (dsk_…). It belongs on the embedder's server only and must never be typed into a phone. Use the public UI key (dpk_…).")
		s.Connect.Disable()
		return false
	}
	s.KeyHint.Hide()
	s.Connect.Enable()
	return true
}

func (s *ConnectScreen) submit() {
	if s.Connect.Disabled() {
		return
	}
	c := deeplink.Connect{Server: strings.TrimRight(strings.TrimSpace(s.Server.Text), "/"), Key: strings.TrimSpace(s.Key.Text), Policy: s.policy, Origin: s.origin}
	if err := c.Validate(); err != nil {
		s.Problem.ShowText(sentence(linkReason(err)))
		return
	}
	api, err := s.dial(c.Server, c.Key)
	if err != nil {
		s.Problem.ShowText("The server address or key cannot be used: " + linkReason(err) + ".")
		return
	}
	s.Connect.Disable()
	s.busy.on()
	run0(s.env, func(ctx context.Context) error { return probe(ctx, api) }, func(err error) {
		s.busy.off()
		s.Connect.Enable()
		if err != nil {
			if errors.Is(err, client.ErrUnauthorized) {
				s.Problem.ShowText("The server does not recognise this UI key. Check it with your admin.")
				return
			}
			s.Problem.Show(describe(err), s.submit)
			return
		}
		s.connected(c, api)
	})
}

// probe checks that the server answers and knows the key. Checking a
// password candidate is the one call with no side effect that any valid key
// may make: an unknown key is 401, a known one a 2xx or a 409 about the
// candidate.
func probe(ctx context.Context, api KeyAPI) error {
	err := api.ValidatePassword(ctx, "connection check")
	var ae *client.Error
	if errors.As(err, &ae) && !errors.Is(err, client.ErrUnauthorized) && !errors.Is(err, client.ErrServer) && !errors.Is(err, client.ErrRateLimited) {
		return nil // the server judged the candidate: the key is good
	}
	return err
}

// sentence capitalises the first letter and ends with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
