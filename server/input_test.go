package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/testserver"
	"github.com/deputyhq/deputy/internal/teststore"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// Raw request bodies for the input rules: invalid UTF-8 and repeated names
// cannot be written as Go maps.
const (
	rootFmt = `{"rootUser":{"name":%s,"surname":"Lovelace","email":%s,"companyPosition":"DIRECTOR","mobile":{"countryCode":"+44","number":"7700900123"}%s},` +
		`"company":{"name":"Acme","type":"LLC","registrationCountry":"GB"},"profileId":"1","ipAddress":"192.0.2.1","baseCurrency":"GBP"}`
	consumerFmt = `{"profileId":"1","ipAddress":"192.0.2.1","rootUser":{"name":"Ada","surname":"Lovelace","email":"ada@acme.test","mobile":{"countryCode":"+44","number":"7700900123"}%s}}`
)

func corporateRaw(name, email, extra string) string { return fmt.Sprintf(rootFmt, name, email, extra) }

// consumerRaw is a consumerCreate body with extra inside rootUser, and the
// dateOfBirth and address Weavr requires unless extra gives its own.
func consumerRaw(extra string) string {
	if !strings.Contains(extra, `"dateOfBirth"`) {
		extra += `,"dateOfBirth":{"year":1990,"month":12,"day":10}`
	}
	if !strings.Contains(extra, `"address"`) {
		extra += `,"address":{"country":"GB"}`
	}
	return fmt.Sprintf(consumerFmt, extra)
}

// TestInputRulesNameTheField: impossible dates, invalid UTF-8, repeated names,
// control and invisible characters and look-alike emails are 400s in Weavr's
// invalidFields shape naming the field, on every endpoint they can reach, and
// nothing of a refused request is written.
func TestInputRulesNameTheField(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	userID := e.createUser(root.token, userBody("member@acme.test"))
	secret := func(path string) func(string) resp {
		return func(body string) resp { return e.key("POST", path, body) }
	}
	asRoot := func(method, path string) func(string) resp {
		return func(body string) resp { return e.auth(root.token, method, path, body) }
	}
	corporates, consumers := secret("/multi/corporates"), secret("/multi/consumers")
	createUser, patchUser := asRoot("POST", usersPath), asRoot("PATCH", userPath(userID))
	tests := []struct {
		name string
		send func(string) resp
		body string
		want []string
	}{
		// Impossible dates.
		{"31 February", corporates, corporateRaw(`"Ada"`, `"ada@acme.test"`, `,"dateOfBirth":{"year":2001,"month":2,"day":31}`), []string{"rootUser.dateOfBirth.day:RANGE"}},
		{"month 13", consumers, consumerRaw(`,"dateOfBirth":{"year":2001,"month":13,"day":1}`), []string{"rootUser.dateOfBirth.month:RANGE"}},
		{"29 February, common year", createUser, `{"name":"A","surname":"B","email":"n1@acme.test","dateOfBirth":{"year":2001,"month":2,"day":29}}`, []string{"dateOfBirth.day:RANGE"}},
		{"29 February 1900", patchUser, `{"dateOfBirth":{"year":1900,"month":2,"day":29}}`, []string{"dateOfBirth.day:RANGE"}},
		{"31 April", patchUser, `{"dateOfBirth":{"year":1990,"month":4,"day":31}}`, []string{"dateOfBirth.day:RANGE"}},
		// Invalid UTF-8 and lone surrogates.
		{"invalid UTF-8 in a value", corporates, corporateRaw("\"Ad\xffa\"", `"ada@acme.test"`, ""), []string{"rootUser.name:REGEX"}},
		{"overlong UTF-8", createUser, "{\"name\":\"A\xc0\xafB\",\"surname\":\"B\",\"email\":\"n2@acme.test\"}", []string{"name:REGEX"}},
		{"invalid UTF-8 in a name", consumers, consumerRaw(",\"t\xffg\":1"), []string{"rootUser.t\ufffdg:NOT_IN"}}, // unknown first
		{"lone surrogate", patchUser, `{"surname":"Love\ud800lace"}`, []string{"surname:REGEX"}},
		// Repeated names, at any depth, in any case.
		{"repeated top-level name", corporates, `{"company":{"name":"Evil"},` + corporateRaw(`"Ada"`, `"ada@acme.test"`, "")[1:], []string{"company:AT_MOST"}},
		{"repeated nested name", corporates, corporateRaw(`"Ada"`, `"ada@acme.test","email":"eve@evil.test"`, ""), []string{"rootUser.email:AT_MOST"}},
		{"repeated name in another case", createUser, `{"name":"A","surname":"B","email":"n3@acme.test","EMAIL":"eve@evil.test"}`, []string{"EMAIL:AT_MOST"}},
		{"repeated name in a nested object", patchUser, `{"mobile":{"countryCode":"+44","number":"7700900111","number":"7700900222"}}`, []string{"mobile.number:AT_MOST"}},
		// Control and invisible characters in free text.
		{"bidi override in a name", createUser, `{"name":"\u202eAda","surname":"B","email":"n4@acme.test"}`, []string{"name:REGEX"}},
		{"NUL in a surname", patchUser, `{"surname":"Love\u0000lace"}`, []string{"surname:REGEX"}},
		{"newline in a name", corporates, corporateRaw(`"Ada\nEve"`, `"ada@acme.test"`, ""), []string{"rootUser.name:REGEX"}},
		{"zero-width space in a tag", patchUser, `{"tag":"team\u200b1"}`, []string{"tag:REGEX"}},
		{"C1 control in an address", consumers, consumerRaw(`,"address":{"addressLine1":"1 Main St\u0085","country":"GB"}`), []string{"rootUser.address.addressLine1:REGEX"}},
		{"escape sequence in a company name", corporates, `{"profileId":"1","ipAddress":"192.0.2.1","baseCurrency":"GBP","rootUser":{"name":"Ada","surname":"L","email":"ada@acme.test","companyPosition":"DIRECTOR","mobile":{"countryCode":"+44","number":"7700900123"}},"company":{"name":"Acme\u001b[2J","type":"LLC","registrationCountry":"GB"}}`, []string{"company.name:REGEX"}},
		// Look-alike and invisible emails, wherever an email enters.
		{"Cyrillic a in a root email", corporates, corporateRaw(`"Ada"`, `"\u0430da@acme.test"`, ""), []string{"rootUser.email:REGEX"}},
		{"soft hyphen in a user's email", createUser, `{"name":"A","surname":"B","email":"n5@ac\u00adme.test"}`, []string{"email:REGEX"}},
		{"zero-width joiner in a new email", patchUser, `{"email":"mem\u200dber2@acme.test"}`, []string{"email:REGEX"}},
		{"Greek omicron at sign-in", secret("/multi/login_with_password"), `{"email":"r\u03bfot@acme.test","password":{"value":"x"}}`, []string{"email:REGEX"}},
		{"fullwidth letter at lost password", secret("/multi/passwords/lost_password/start"), `{"email":"\uff52oot@acme.test"}`, []string{"email:REGEX"}},
		{"mixed-script domain at email verification", secret(emailSendPath), `{"email":"root@xn--acm-ysc.test"}`, []string{"email:REGEX"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.send(tt.body)
			assert.Equal(t, tt.want, r.invalidFields(t), "%s", r.body)
		})
	}

	// Nothing of the refused requests was written.
	r := e.key("POST", "/multi/corporates", corporateBody("ada@acme.test"))
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	u := e.getUser(root.token, userID)
	assert.Equal(t, "member@acme.test", u["email"])
	assert.Nil(t, u["dateOfBirth"])
}

// TestInvalidUTF8OutsideStringsNamesTheBody: a stray byte between tokens
// is a 400 about the body itself.
func TestInvalidUTF8OutsideStringsNamesTheBody(t *testing.T) {
	e := newEnv(t)
	r := e.key("POST", "/multi/login_with_password", "{\"email\":\"a@acme.test\",\xff\"password\":{\"value\":\"x\"}}")
	b := r.badRequest(t)
	assert.Contains(t, b.Message, "malformed JSON")
}

// TestPasswordsMayHoldAnyCharacter: passwords are secrets, not text: the text
// rule does not apply to them, so a wrong one is a failed sign-in, not a 400.
func TestPasswordsMayHoldAnyCharacter(t *testing.T) {
	e := newEnv(t)
	e.corporate("ada@acme.test")
	r := e.key("POST", "/multi/login_with_password", `{"email":"ada@acme.test","password":{"value":"pass\u200cword\u202e"}}`)
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
}

// TestEmailsAreCanonical: an email is stored, compared and answered lower
// case, in NFC, with an ASCII domain, so two spellings of one address are one
// account and sign in alike.
func TestEmailsAreCanonical(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ create, stored, signIn string }{
		{"Ada@ACME.test", "ada@acme.test", "ADA@acme.TEST"},
		{"e\u0301mile@acme.test", "\u00e9mile@acme.test", "\u00e9mile@acme.test"},
		{"jo@b\u00fccher.de", "jo@xn--bcher-kva.de", "jo@B\u00dcCHER.de"},
	} {
		r := e.key("POST", "/multi/corporates", corporateBody(tt.create))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, tt.stored, str(t, r.json(t), "rootUser", "email"))
		id := str(t, r.json(t), "id", "id")
		require.Equal(t, http.StatusOK, e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)}).status)
		assert.Equal(t, http.StatusOK, e.login(tt.signIn, testPassword).status, "sign in as %q", tt.signIn)
		r = e.key("POST", "/multi/corporates", corporateBody(tt.signIn))
		assert.Equal(t, http.StatusConflict, r.status, "%q is the same address as %q: %s", tt.signIn, tt.create, r.body)
	}
}

// TestEmailSpellingsRaceToOneAccount fires, in parallel, sign-ups of one
// address spelled every way its canonical form folds together, and of its
// look-alikes: exactly one becomes the account, the other spellings are 409s,
// the look-alikes 400s naming rootUser.email.
func TestEmailSpellingsRaceToOneAccount(t *testing.T) {
	e := newEnv(t)
	same := []string{"admin@acme.test", "ADMIN@acme.test", "Admin@Acme.Test", "admin@ACME.TEST", "aDmIn@acme.test"}
	lookAlikes := []string{"\u0430dmin@acme.test", "ad\u200bmin@acme.test", "adm\u00adin@acme.test", "admin@\u0430cme.test", "\uff41dmin@acme.test"}
	emails := append(append([]string{}, same...), lookAlikes...)
	emails = append(emails, emails...) // each twice
	results := make([]resp, len(emails))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, email := range emails {
		wg.Go(func() {
			<-start
			results[i] = e.key("POST", "/multi/corporates", corporateBody(email))
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, r := range results {
		if slices.Contains(lookAlikes, emails[i]) {
			assert.Equal(t, []string{"rootUser.email:REGEX"}, r.invalidFields(t), "%q", emails[i])
			continue
		}
		switch r.status {
		case http.StatusOK:
			created++
			assert.Equal(t, "admin@acme.test", str(t, r.json(t), "rootUser", "email"))
		case http.StatusConflict:
			assert.Equal(t, core.CodeRootEmailNotUnique, r.errorCode(t))
		default:
			t.Errorf("%q: %d %s", emails[i], r.status, r.body)
		}
	}
	assert.Equal(t, 1, created, "one account for every spelling")
}

// TestOversizeBodyGets413WithoutContinue: a declared body over the cap is
// refused before anything reads it, so a client waiting on "Expect:
// 100-continue" never sends it; a chunked body is cut at the cap.
func TestOversizeBodyGets413WithoutContinue(t *testing.T) {
	e := newEnv(t)
	u, err := url.Parse(e.url)
	require.NoError(t, err)
	for _, path := range []string{"/multi/corporates", "/multi/login_with_password", "/multi/nothing"} {
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\napi-key: %s\r\nContent-Type: application/json\r\n"+
			"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, u.Host, e.apiKey, 10<<20)
		require.NoError(t, err)
		status, err := bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "HTTP/1.1 413 Request Entity Too Large\r\n", status, "%s: the first line answered, no 100 Continue", path)
		conn.Close()
	}
	// Refused before routing, yet logged (and measured) by their routes.
	routes := map[string]bool{}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var l struct{ Msg, Route string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" {
			routes[l.Route] = true
		}
	}
	assert.True(t, routes["/multi/corporates"], "the oversize create is logged by its route: %v", routes)
	assert.True(t, routes["/multi/login_with_password"], "the oversize sign-in is logged by its route: %v", routes)

	req, err := http.NewRequest("POST", e.url+"/multi/corporates", io.MultiReader(strings.NewReader(`{"x":"`), strings.NewReader(strings.Repeat("x", 10<<20))))
	require.NoError(t, err)
	req.Header.Set("api-key", e.apiKey)
	req.ContentLength = -1 // unknown: sent chunked
	res, err := e.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
}

// TestFullDiskAnswers503UntilSpaceIsFreed runs Deputy on a small real disk
// (a tmpfs) and fills it: writes answer 503 SERVICE_UNAVAILABLE with
// Retry-After, never a 500 nor half a change; /readyz answers 503 with
// Retry-After; once space is freed both recover by themselves.
func TestFullDiskAnswers503UntilSpaceIsFreed(t *testing.T) {
	if teststore.OnPostgres() {
		t.Skip("fills the disk of a bbolt file; PostgreSQL's disk is the server's own")
	}
	dir := testserver.SmallDisk(t, 4<<20)
	t.Setenv("TMPDIR", dir) // the harness puts its bbolt file in t.TempDir()
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.call("GET", "/readyz", nil).status)

	free := testserver.FillDisk(t, dir)
	var r resp
	var email string
	for i := range 500 {
		email = fmt.Sprintf("root%d@acme.test", i)
		if r = e.key("POST", "/multi/corporates", corporateBody(email)); r.status != http.StatusOK {
			break
		}
	}
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Equal(t, "SERVICE_UNAVAILABLE", r.json(t)["code"])
	assert.Equal(t, "10", r.header.Get("Retry-After"))
	assert.NotContains(t, string(r.body), dir, "the disk's path stays in the log")
	assert.Contains(t, e.logs.String(), "no space left on device", "operators see why")

	ready := e.call("GET", "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, ready.status)
	assert.Equal(t, "10", ready.header.Get("Retry-After"))

	free()
	e.clock.Advance(core.UnavailableRetry)
	assert.Equal(t, http.StatusOK, e.call("GET", "/readyz", nil).status, "ready again by itself")
	r = e.key("POST", "/multi/corporates", corporateBody(email))
	assert.Equal(t, http.StatusOK, r.status, "the refused create left nothing behind: %s", r.body)
}

// TestRequestLogPathIsPrintable: the request log names the path an outsider
// chose. Go's JSON escapes only ASCII controls (and U+2028/2029), so a C1
// control or a bidi override decoded from the path reached the log raw, and
// the terminal of an operator following it; the log keeps the path escaped.
func TestRequestLogPathIsPrintable(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.url + "/multi/users/%C2%9B2J%E2%80%AE%C2%85x")
	require.NoError(t, err)
	res.Body.Close()
	logs := e.logs.String()
	require.Contains(t, logs, "/multi/users/", "the request is logged")
	for _, r := range []string{"\u009b", "\u202e", "\u0085"} {
		assert.NotContains(t, logs, r)
	}
}

// TestEmptyOptionalFieldInAnotherCase: encoding/json matches a name to its
// field in any case, so {"Tag": ""} sets tag as {"tag": ""} does; an empty
// string for such a field is refused whatever the case of its name, naming
// the field as declared, on userUpdate, userCreate and corporateUpdate.
func TestEmptyOptionalFieldInAnotherCase(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	id := e.createUser(root.token, userBody("bea@acme.test"))

	r := e.auth(root.token, "PATCH", userPath(id), map[string]any{"TAG": ""})
	assert.Equal(t, []string{"tag:REGEX"}, r.invalidFields(t))

	create := userBody("cy@acme.test")
	create["Locale"] = ""
	r = e.auth(root.token, "POST", usersPath, create)
	assert.Equal(t, []string{"locale:REGEX"}, r.invalidFields(t))

	r = e.auth(root.token, "PATCH", "/multi/corporates", map[string]any{"userTAG": ""})
	assert.Equal(t, []string{"userTag:REGEX"}, r.invalidFields(t))
}

// TestEmptyEnumFieldRefused: an optional field Weavr holds to an enum
// (industry, sourceOfFunds, occupation) refuses "" as it refuses any value
// outside it, on create and on update; the enum check skipped "" as absent,
// so a create stored it and a PATCH cleared the field.
func TestEmptyEnumFieldRefused(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		field string
		body  map[string]any
	}{
		{"industry", corporateBody("a@acme.test")},
		{"sourceOfFunds", corporateBody("b@acme.test")},
		{"sourceOfFunds", consumerBody("c@acme.test")},
	} {
		c.body[c.field] = ""
		path := "/multi/corporates"
		if _, ok := c.body["company"]; !ok {
			path = "/multi/consumers"
		}
		assert.Equal(t, []string{c.field + ":IN"}, e.key("POST", path, c.body).invalidFields(t), path)
	}
	consumer := consumerBody("d@acme.test")
	consumer["rootUser"].(map[string]any)["occupation"] = ""
	assert.Equal(t, []string{"rootUser.occupation:IN"}, e.key("POST", "/multi/consumers", consumer).invalidFields(t))

	_, corp := e.corporate("root@acme.test")
	for _, f := range []string{"industry", "sourceOfFunds"} {
		assert.Equal(t, []string{f + ":IN"}, e.auth(corp, "PATCH", "/multi/corporates", map[string]any{f: ""}).invalidFields(t))
	}
	_, cons := e.identity("consumers", consumerBody("grace@acme.test"))
	for _, f := range []string{"occupation", "sourceOfFunds"} {
		assert.Equal(t, []string{f + ":IN"}, e.auth(cons, "PATCH", "/multi/consumers", map[string]any{f: ""}).invalidFields(t))
	}
}

// TestQueryParametersMustBeText: a query parameter that is not text
// (core.TextRule) is a 400 naming it. Filters reached the store as they
// came: on PostgreSQL, ?tag=%00 was a 500 that broke the connection for
// every request after it.
func TestQueryParametersMustBeText(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for _, tt := range []struct{ query, want string }{
		{"tag=%00", "tag:REGEX"},
		{"tag=t%ff", "tag:REGEX"},
		{"search=a%ffb", "search:REGEX"},
		{"search=a%e2%80%aeb", "search:REGEX"},
		{"limit=10&tag=a%0a", "tag:REGEX"},
		{"x%ff=1", "query:REGEX"},
	} {
		r := e.auth(root.token, "GET", usersPath+"?"+tt.query, nil)
		assert.Equal(t, []string{tt.want}, r.invalidFields(t), "?%s: %s", tt.query, r.body)
	}
	for range 20 {
		r := e.auth(root.token, "GET", usersPath+"?tag=team-1", nil)
		require.Equal(t, http.StatusOK, r.status, "the store still serves: %s", r.body)
	}
}

// TestRepeatedQueryParametersAreRefused: a query parameter given twice is a
// 400 naming it, as a repeated name in a body is; the server read the first
// and dropped the other, so ?active=true&active=false listed active users.
// roles, the one list parameter (usersGet), may repeat.
func TestRepeatedQueryParametersAreRefused(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	for _, tt := range []struct{ path, want string }{
		{usersPath + "?active=true&active=false", "active:AT_MOST"},
		{usersPath + "?limit=1&offset=0&limit=100", "limit:AT_MOST"},
		{usersPath + "?email=a@acme.test&email=b@acme.test", "email:AT_MOST"},
		{"/multi/identities?offset=0&offset=1", "offset:AT_MOST"},
	} {
		r := e.auth(root.token, "GET", tt.path, nil)
		assert.Equal(t, []string{tt.want}, r.invalidFields(t), "%s: %s", tt.path, r.body)
	}
	r := e.auth(root.token, "GET", usersPath+"?roles=ADMIN&roles=ACCESS_MANAGEMENT_ROLE", nil)
	assert.Equal(t, http.StatusOK, r.status, "roles may repeat: %s", r.body)

	spec, err := apispec.Load()
	require.NoError(t, err)
	var lists []string
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p.Value.In == "query" && p.Value.Schema.Value.Type.Is("array") {
					lists = append(lists, method+" "+path+" "+p.Value.Name)
				}
			}
		}
	}
	assert.Equal(t, []string{"GET /multi/users roles"}, lists, "the list parameters server.listParams lets repeat")
}

// TestTextNoStoreHoldsIsNever5xx gives each path and query parameter of
// every operation, one at a time, text that no store column can hold (not
// UTF-8, a NUL byte) as a signed-in, stepped-up root: the answer may refuse
// it, never fail with a 5xx. PostgreSQL refuses such text in any statement
// (22021), where bbolt keys on bytes; make test runs this on both stores.
func TestTextNoStoreHoldsIsNever5xx(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	spec, err := apispec.Load()
	require.NoError(t, err)
	token, tried := root.token, 0
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(slices.Clone(item.Parameters), op.Parameters...)
			for _, spoilt := range params {
				for _, bad := range []string{"%FF", "a%00b"} {
					target := path
					for _, p := range params { // the other path parameters name the root
						if p.Value.In == "path" {
							value := root.id
							if p == spoilt {
								value = bad
							}
							target = strings.ReplaceAll(target, "{"+p.Value.Name+"}", value)
						}
					}
					switch spoilt.Value.In {
					case "query":
						target += "?" + url.QueryEscape(spoilt.Value.Name) + "=" + bad
					case "path":
					default:
						continue
					}
					var body any
					if op.RequestBody != nil {
						body = map[string]any{}
					}
					r := e.auth(token, strings.ToUpper(method), target, body)
					tried++
					assert.Less(t, r.status, 500, "%s %s: %s", method, target, r.body)
					if r.status == http.StatusUnauthorized { // an operation ended the session
						l := e.login("root@acme.test", testPassword)
						require.Equal(t, http.StatusOK, l.status, "%s", l.body)
						token = str(t, l.json(t), "token")
						e.stepUp(token)
					}
				}
			}
		}
	}
	assert.Greater(t, tried, 100, "requests made")
}
