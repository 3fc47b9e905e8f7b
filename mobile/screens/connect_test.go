package screens_test

import (
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/mobile/screens"
)

func TestConnectScreenFromLink(t *testing.T) {
	d := startDeputy(t)
	h := newHarness(t)
	var got deeplink.Connect
	s := screens.NewConnectScreen(h.env(), screens.DialClient(), deeplink.Connect{}, func(c deeplink.Connect, _ screens.API) { got = c })
	h.show(s)
	h.assertMarkup("connect_empty.xml")

	link := deeplink.Connect{Server: d.URL, Key: d.UIKey}.String()
	h.paste(s.Link, link)
	assert.Equal(t, d.URL, s.Server.Text)
	assert.Equal(t, d.UIKey, s.Key.Text)
	assert.Equal(t, "Link read. Check the server address, then tap Connect.", s.LinkHint.Text)

	test.Tap(s.Connect)
	h.waitFor("connected", func() bool { return got != (deeplink.Connect{}) })
	assert.Equal(t, deeplink.Connect{Server: d.URL, Key: d.UIKey}, got)
}

func TestConnectScreenRefusesSecretKey(t *testing.T) {
	d := startDeputy(t)
	h := newHarness(t)
	s := screens.NewConnectScreen(h.env(), screens.DialClient(), deeplink.Connect{}, func(deeplink.Connect, screens.API) {
		t.Error("connected with the secret key")
	})
	h.show(s)
	h.typeInto(s.Server, "https://auth.example.com")
	h.typeInto(s.Key, "dsk_example_secret")
	assert.True(t, s.KeyHint.Visible())
	assert.Contains(t, s.KeyHint.Text, "secret API key")
	assert.True(t, s.Connect.Disabled())
	test.Tap(s.Connect)
	h.settle()
	h.assertMarkup("connect_secret_key.xml")

	// A link carrying the secret key is refused too, and fills nothing in.
	s.Key.SetText("")
	s.Server.SetText("")
	require.True(t, s.Problem.Visible() == false)
	h.paste(s.Link, "deputy://connect?server=https://a.example&key="+d.APIKey)
	assert.Contains(t, s.LinkHint.Text, "secret API key")
	assert.Empty(t, s.Key.Text)

	// Typed a character at a time, it is a link with a short key ("d",
	// "ds", "dsk") before it holds the secret key: what those filled in
	// goes again, and nothing half-read stays in the fields.
	s.Link.SetText("")
	h.typeInto(s.Link, "deputy://connect?server=https://a.example&key="+d.APIKey)
	assert.Contains(t, s.LinkHint.Text, "secret API key")
	assert.Empty(t, s.Server.Text)
	assert.Empty(t, s.Key.Text)
}

func TestConnectScreenUnknownKeyAndNetworkErrors(t *testing.T) {
	d := startDeputy(t)
	h := newHarness(t)
	connected := false
	s := screens.NewConnectScreen(h.env(), screens.DialClient(), deeplink.Connect{}, func(deeplink.Connect, screens.API) { connected = true })
	h.show(s)

	h.typeInto(s.Server, d.URL)
	h.typeInto(s.Key, "dpk_not-a-real-key")
	test.Tap(s.Connect)
	h.waitFor("problem shown", s.Problem.Visible)
	assert.Equal(t, "The server does not recognise this UI key. Check it with your admin.", s.Problem.Message.Text)
	assert.False(t, s.Problem.Retry.Visible())

	// Nothing listens on port 1: a network error offers to try again.
	s.Server.SetText("http://127.0.0.1:1")
	s.Key.SetText("dpk_example")
	test.Tap(s.Connect)
	h.waitFor("problem shown", s.Problem.Visible)
	assert.Equal(t, "Cannot reach the server. Check your connection and try again.", s.Problem.Message.Text)
	require.True(t, s.Problem.Retry.Visible())
	h.assertMarkup("connect_unreachable.xml")

	// With the right address, trying again connects.
	s.Server.SetText(d.URL)
	s.Key.SetText(d.UIKey)
	test.Tap(s.Connect)
	h.waitFor("connected", func() bool { return connected })
}

func TestConnectionPreferences(t *testing.T) {
	h := newHarness(t)
	_, ok := screens.LoadConnection(h.app.Preferences())
	assert.False(t, ok)
	c := deeplink.Connect{Server: "https://auth.example.com", Key: "dpk_abc", Policy: "nist", Origin: "https://example.com"}
	screens.SaveConnection(h.app.Preferences(), c)
	got, ok := screens.LoadConnection(h.app.Preferences())
	require.True(t, ok)
	assert.Equal(t, c, got)
	screens.ForgetConnection(h.app.Preferences())
	_, ok = screens.LoadConnection(h.app.Preferences())
	assert.False(t, ok)
}
