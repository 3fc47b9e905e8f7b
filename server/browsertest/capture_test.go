package browsertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// The password the user types into the iframe, in two parts so that the
// live policy is seen failing first. It is letters, digits and a hyphen, which
// no JSON, HTML or URL encoding changes, so any four characters of it in a row
// give a leak away wherever they turn up.
const (
	typedFirst  = "Qz7v"
	typedSecond = "Kx9Wm-pLt4Rj"
	password    = typedFirst + typedSecond
)

// embedderPage is an embedder's sign-in page: it includes Deputy's script,
// mounts the field and records everything it is told. Its own message
// listener records every message that reaches the window, from anyone.
var embedderPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Embedder</title></head>
<body>
<form id="signin"><input id="email" value="ada@acme.test"><div id="password"></div><button>Sign in</button></form>
<script>
window.received = [];
window.addEventListener("message", function (e) { window.received.push({origin: e.origin, data: JSON.stringify(e.data)}); });
</script>
<script src="{{.Deputy}}/secure/deputy-secure.js"></script>
<script>
window.tokens = []; window.states = []; window.errors = [];
window.field = Deputy.mountPassword(document.getElementById("password"), {
  uiKey: {{.UIKey}},
  mode: "new",
  onToken: function (t) { window.tokens.push(t); },
  onChange: function (s) { window.states.push(s); },
  onError: function (e) { window.errors.push(e); },
});
window.frameLoaded = false;
window.field.frame.addEventListener("load", function () { window.frameLoaded = true; });
</script>
</body>
</html>`))

// serveEmbedder serves embedderPage on a new loopback port under the host name
// localhost, another origin than Deputy's 127.0.0.1.
func serveEmbedder(t *testing.T, deputy, uiKey string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = embedderPage.Execute(w, map[string]string{"Deputy": deputy, "UIKey": uiKey})
	}))
	t.Cleanup(ts.Close)
	return strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
}

// newBrowser starts headless Chromium with a fresh profile; the test fails,
// rather than skips, when it is not installed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's Chromium at %s (%v): run `make browser-deps` (apt-get install -y chromium)", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// run runs an action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err, what)
	return v
}

// openCapture opens the embedder's page in a new tab of the browser ctx,
// waits for its capture field's first state, and returns the tab and the
// capture iframe (deputy is Deputy's base URL).
func openCapture(t *testing.T, ctx context.Context, embedder, deputy string) (tab, frame context.Context) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(embedder+"/")))
	run(t, tab, "the field reports its first state", chromedp.Poll[bool](`window.frameLoaded && window.states.length > 0`))
	return tab, captureFrame(t, tab, deputy)
}

// captureFrame attaches to the out-of-process iframe of the capture page.
func captureFrame(t *testing.T, ctx context.Context, deputy string) context.Context {
	t.Helper()
	infos, err := chromedp.Targets(ctx)
	require.NoError(t, err)
	var id target.ID
	for _, info := range infos {
		if info.Type == "iframe" && strings.HasPrefix(info.URL, deputy+"/secure/capture?") {
			id = info.TargetID
		}
	}
	require.NotEmpty(t, id, "no capture iframe among the browser's targets: %+v", infos)
	fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	return fctx
}

// readable is everything the embedder's page can read about what happened:
// the messages it was sent, what the component handed it, its DOM, its
// storage, the URLs it loaded and its own global values.
const readable = `JSON.stringify({
  received: window.received, tokens: window.tokens, states: window.states, errors: window.errors,
  html: document.documentElement.outerHTML,
  frameSrc: window.field.frame.src,
  cookie: document.cookie,
  local: Object.assign({}, localStorage), session: Object.assign({}, sessionStorage),
  resources: performance.getEntries().map(function (e) { return e.name; }),
  globals: Object.keys(window).map(function (k) {
    try { var v = window[k]; return typeof v === "object" && v !== null && v !== window ? k + "=" + JSON.stringify(v) : k + "=" + String(v); }
    catch (e) { return k + ":" + e.name; }
  }),
})`

// crossOriginProbe tries to reach into the iframe's document from the embedder's page.
const crossOriginProbe = `(function () {
  var f = window.field.frame, out = {contentDocument: f.contentDocument === null ? "null" : "readable"};
  function attempt(name, fn) { try { fn(); out[name] = "readable"; } catch (e) { out[name] = e.name; } }
  attempt("document", function () { return f.contentWindow.document.documentElement.outerHTML; });
  attempt("input", function () { return f.contentWindow.document.getElementById("password").value; });
  attempt("location", function () { return f.contentWindow.location.href; });
  return out;
})()`

func post(t *testing.T, url, key string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return res.StatusCode, out
}

// newUser creates a corporate whose root user has the password the test types.
func newUser(t *testing.T, d *testserver.Instance, email string) {
	t.Helper()
	status, body := post(t, d.URL+"/multi/corporates", d.APIKey, map[string]any{
		"profileId": "1", "ipAddress": "192.0.2.1", "baseCurrency": "GBP",
		"rootUser": map[string]any{"name": "Ada", "surname": "Lovelace", "email": email, "companyPosition": "DIRECTOR",
			"mobile": map[string]any{"countryCode": "+44", "number": "7700900123"}},
		"company": map[string]any{"name": "Acme Ltd", "type": "LLC", "registrationCountry": "GB"},
	})
	require.Equal(t, http.StatusOK, status, "%v", body)
	id := body["id"].(map[string]any)["id"].(string)
	status, body = post(t, d.URL+"/multi/passwords/"+id+"/create", d.APIKey, map[string]any{"password": map[string]any{"value": password}})
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// assertNoPassword fails if text holds any four consecutive characters of the password.
func assertNoPassword(t *testing.T, where, text string) {
	t.Helper()
	for i := 0; i+4 <= len(password); i++ {
		if part := password[i : i+4]; strings.Contains(text, part) {
			t.Errorf("%s holds %q, part of the password", where, part)
		}
	}
}

// TestCaptureComponent is the browser capture component end to end in
// Chromium: the embedder's page on http://localhost:P mounts the field served
// by Deputy on http://127.0.0.1:Q, the user types a password into it, the
// page gets a token and signs the user in with it through the secret key, and
// nothing the page can read ever holds the password.
func TestCaptureComponent(t *testing.T) {
	ctx := newBrowser(t)
	d := testserver.Start(t, testserver.Options{})
	embedder := serveEmbedder(t, d.URL, d.UIKey)
	stranger := serveEmbedder(t, d.URL, d.UIKey) // another port: another origin, not allowed
	_, err := d.Service.UpdateProgrammeSettings(context.Background(), d.Programme.ID, nil, core.ProgrammeSettings{AllowedOrigins: []string{embedder}})
	require.NoError(t, err)
	newUser(t, d, "ada@acme.test")

	t.Run("allowed origin gets the token, never the password", func(t *testing.T) {
		tab, frame := openCapture(t, ctx, embedder, d.URL)

		rules := run(t, frame, "policy", chromedp.Text(chromedp.CSS("#rules")))
		assert.Contains(t, rules, "8 to 30 characters", "the programme's (Weavr) policy is shown")
		assert.Contains(t, rules, "at least one special character")

		require.NoError(t, chromedp.Do(frame, chromedp.SendKeys(chromedp.CSS("#password"), typedFirst)))
		state := run(t, tab, "the policy is checked live", chromedp.Poll[map[string]any](
			`(function () { var s = window.states[window.states.length - 1]; return s && s.rules.length === false && s.rules.digit === true ? s : null; })()`))
		assert.Equal(t, false, state["valid"])
		met := run(t, frame, "rules marked met in the frame", chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("#rules li.met")).map(function (li) { return li.dataset.rule; })`))
		assert.ElementsMatch(t, []string{"lower", "upper", "digit"}, met)

		require.NoError(t, chromedp.Do(frame, chromedp.SendKeys(chromedp.CSS("#password"), typedSecond)))
		run(t, tab, "every rule met", chromedp.Poll[bool](`window.states.length > 0 && window.states[window.states.length - 1].valid === true`))
		assert.Equal(t, password, run(t, frame, "the value typed", chromedp.Value(chromedp.CSS("#password"))),
			"the password really is in the iframe, so the checks below are not vacuous")

		require.NoError(t, chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.field.submit()`)))
		token := run(t, tab, "the token arrives", chromedp.Poll[string](`window.tokens[0]`))
		assert.True(t, strings.HasPrefix(token, "dtk_") && core.IsPasswordToken(token), "token %q", token)

		seen := run(t, tab, "what the page can read", chromedp.Evaluate[string](readable))
		assertNoPassword(t, "what the embedder's page can read", seen)
		assert.Contains(t, seen, token, "the sweep does see what the page was given")
		// The page learns which rules are met, not each keystroke: a state
		// per key would count the password's length out to any script on it.
		states := run(t, tab, "the states the page was told", chromedp.Evaluate[[]string](`window.states.map(JSON.stringify)`))
		assert.Less(t, len(states), len(password), "one state per keystroke: %v", states)
		for i := 1; i < len(states); i++ {
			assert.NotEqual(t, states[i-1], states[i], "state %d repeats the one before", i)
		}
		var received []struct{ Origin, Data string }
		require.NoError(t, json.Unmarshal([]byte(run(t, tab, "messages", chromedp.Evaluate[string](`JSON.stringify(window.received)`))), &received))
		require.NotEmpty(t, received)
		for _, m := range received {
			assert.Equal(t, d.URL, m.Origin, "every message came from Deputy's origin")
			var msg map[string]any
			require.NoError(t, json.Unmarshal([]byte(m.Data), &msg))
			switch msg["type"] {
			case "deputy:token", "deputy:state", "deputy:resize", "deputy:error":
			default:
				t.Errorf("unexpected message %s", m.Data)
			}
		}

		probe := run(t, tab, "reach into the iframe", chromedp.Evaluate[map[string]string](crossOriginProbe))
		assert.Equal(t, map[string]string{"contentDocument": "null", "document": "SecurityError", "input": "SecurityError", "location": "SecurityError"}, probe)

		blocked := run(t, tab, "call tokenize from the page", chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q, {method: "POST",
			headers: {"api-key": %q, "Content-Type": "application/json"}, body: JSON.stringify({password: {value: "x"}})})
			.then(function (r) { return "answered " + r.status; }, function (e) { return "blocked: " + e.name; })`,
			d.URL+"/multi/tokenize", d.UIKey), chromedp.EvalAwaitPromise))
		assert.Equal(t, "blocked: TypeError", blocked, "no CORS: the page cannot call Deputy's API itself")

		status, body := post(t, d.URL+"/multi/login_with_password", d.APIKey, map[string]any{"email": "ada@acme.test", "password": map[string]any{"value": token}})
		require.Equal(t, http.StatusOK, status, "the embedder's backend signs in with the token: %v", body)
		status, body = post(t, d.URL+"/multi/login_with_password", d.APIKey, map[string]any{"email": "ada@acme.test", "password": map[string]any{"value": token}})
		assert.Equal(t, http.StatusNotFound, status, "the token is single use")
		assert.Equal(t, "TOKEN_NOT_FOUND", body["errorCode"])
		assertNoPassword(t, "Deputy's logs", d.Logs.String())
		assert.NotContains(t, d.Logs.String(), token, "Deputy's logs")
	})

	// The live rules judge the password in Unicode NFKC, as the server does
	// (password.Normalise): seven characters, one of them an e and a
	// combining accent, are short, though eight code points were typed.
	t.Run("the length is judged in NFKC", func(t *testing.T) {
		tab, frame := openCapture(t, ctx, embedder, d.URL)
		for value, long := range map[string]bool{"Ab1!e\u0301xy": false, "Ab1!e\u0301xyz": true} {
			require.NoError(t, chromedp.Do(frame, chromedp.Evaluate[chromedp.Void](`(function () {
				var i = document.querySelector("#password"); i.value = "`+value+`"; i.dispatchEvent(new Event("input")); })()`)))
			run(t, tab, value, chromedp.Poll[bool](fmt.Sprintf(
				`window.states.length > 0 && window.states[window.states.length - 1].rules.length === %v`, long)))
		}
	})

	// Under --require-tokenised-passwords too: the capture page checks what
	// is typed in plaintext, which only it may send.
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("Deputy checks the NIST blocklist as the user types (tokens only: %v)", strict), func(t *testing.T) {
			nist, err := d.Service.CreateProgramme(context.Background(), core.NewProgramme{Name: fmt.Sprintf("NIST %v", strict), Settings: core.ProgrammeSettings{PasswordProfile: "nist"}})
			require.NoError(t, err)
			page := serveEmbedder(t, d.URL, nist.UIKey)
			_, err = d.Service.UpdateProgrammeSettings(context.Background(), nist.Programme.ID, nil, core.ProgrammeSettings{PasswordProfile: "nist", AllowedOrigins: []string{page}, RequireTokenisedPasswords: strict})
			require.NoError(t, err)
			tab, frame := openCapture(t, ctx, page, d.URL)
			assert.Contains(t, run(t, frame, "policy", chromedp.Text(chromedp.CSS("#rules"))), "not a commonly used password")

			require.NoError(t, chromedp.Do(frame, chromedp.SendKeys(chromedp.CSS("#password"), "qwertyuiop")))
			run(t, tab, "the blocklist verdict arrives", chromedp.Poll[bool](
				`(function () { var s = window.states[window.states.length - 1]; return s.rules.length === true && s.rules.common === false; })()`))
			require.NoError(t, chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.field.submit()`)))
			assert.Equal(t, "POLICY", run(t, tab, "a common password is not tokenised", chromedp.Poll[string](`window.errors.length && window.errors[0].code`)))

			require.NoError(t, chromedp.Do(frame, chromedp.SendKeys(chromedp.CSS("#password"), "-zebra")))
			run(t, tab, "every rule met", chromedp.Poll[bool](`window.states[window.states.length - 1].valid === true`))
			require.NoError(t, chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.field.submit()`)))
			token := run(t, tab, "the token arrives", chromedp.Poll[string](`window.tokens[0]`))
			assert.True(t, core.IsPasswordToken(token), "token %q", token)
			seen := run(t, tab, "what the page can read", chromedp.Evaluate[string](readable))
			assert.NotContains(t, seen, "qwerty")
			assert.NotContains(t, seen, "zebra")
		})
	}

	t.Run("another origin gets nothing", func(t *testing.T) {
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		refusals := framingRefusals(tab)
		require.NoError(t, chromedp.Do(tab, chromedp.Navigate(stranger+"/")))
		run(t, tab, "the iframe loads (the refusal)", chromedp.Poll[bool](`window.frameLoaded`))
		status, _ := get(t, run(t, tab, "the iframe's address", chromedp.Evaluate[string](`window.field.frame.src`)))
		assert.Equal(t, http.StatusForbidden, status, "Deputy refuses the page for an origin the programme does not allow")

		// The page lies about its origin: Deputy serves the field for the
		// allowed origin, and the browser refuses to show it in this page.
		spoofed := d.URL + "/secure/capture?key=" + url.QueryEscape(d.UIKey) + "&origin=" + url.QueryEscape(embedder)
		status, _ = get(t, spoofed)
		require.Equal(t, http.StatusOK, status)
		require.NoError(t, chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(function () {
			var f = document.createElement("iframe");
			window.spoofLoaded = false;
			f.addEventListener("load", function () { window.spoofLoaded = true; });
			f.src = %q;
			document.body.appendChild(f);
			window.spoof = f;
		})()`, spoofed))))
		run(t, tab, "the spoofing iframe loads (the refusal)", chromedp.Poll[bool](`window.spoofLoaded`))

		// Chromium says why it showed neither page: the refusal allows no
		// framing, and the field allows only the embedder's origin.
		want := map[string]bool{`"frame-ancestors 'none'"`: false, `"frame-ancestors ` + embedder + `"`: false}
		deadline := time.After(10 * time.Second)
		for len(want) > 0 {
			select {
			case text := <-refusals:
				for directive := range want {
					if strings.Contains(text, directive) {
						delete(want, directive)
					}
				}
			case <-deadline:
				t.Fatalf("Chromium reported no framing refusal for %v", want)
			}
		}

		require.NoError(t, chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.field.submit();
			window.spoof.contentWindow.postMessage({type: "deputy:submit"}, "*");`)))
		got := run(t, tab, "what the page was told", chromedp.Evaluate[string](`JSON.stringify([window.received, window.tokens, window.states, window.errors])`))
		assert.Equal(t, `[[],[],[],[]]`, got)
	})
}

// framingRefusals reports the browser's console errors about frames it refused to show.
func framingRefusals(ctx context.Context) <-chan string {
	out := make(chan string, 16)
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Source == "security" && strings.Contains(m.Text, "frame-ancestors") {
				select {
				case out <- m.Text:
				default:
				}
			}
		}
	}()
	return out
}

// get fetches addr outside the browser.
func get(t *testing.T, addr string) (int, http.Header) {
	t.Helper()
	res, err := http.Get(addr)
	require.NoError(t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header
}
