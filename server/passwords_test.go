package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server"
)

// Passwords breaking each rule of the default (Weavr) profile: 8 to 30
// characters with a lower-case letter, an upper-case letter, a digit and a
// special character.
var profileViolations = []struct {
	name, password, code string
}{
	{"seven characters", "Aa1-aaa", "PASSWORD_TOO_SHORT"},
	{"thirty-one characters", "Aa1-" + strings.Repeat("a", 27), "PASSWORD_TOO_LONG"},
	{"no upper-case letter", "str0ng-passw0rd", "PASSWORD_TOO_SIMPLE"},
	{"no lower-case letter", "STR0NG-PASSW0RD", "PASSWORD_TOO_SIMPLE"},
	{"no digit", "Strong-Password", "PASSWORD_TOO_SIMPLE"},
	{"no special character", "Str0ngPassw0rd", "PASSWORD_TOO_SIMPLE"},
}

// newCorporateWithoutPassword creates a corporate and returns its root user's id.
func (e *env) newCorporateWithoutPassword(email string) string {
	e.t.Helper()
	r := e.key("POST", "/multi/corporates", corporateBody(email))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return str(e.t, r.json(e.t), "id", "id")
}

func TestPasswordCreate(t *testing.T) {
	e := newEnv(t)
	rootID := e.newCorporateWithoutPassword("root@acme.test")
	path := "/multi/passwords/" + rootID + "/create"

	for _, tt := range profileViolations {
		t.Run(tt.name, func(t *testing.T) {
			r := e.key("POST", path, map[string]any{"password": pw(tt.password)})
			require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
			assert.Equal(t, tt.code, r.errorCode(t))
		})
	}
	t.Run("bad requests", func(t *testing.T) {
		tests := []struct {
			name, path string
			body       any
			want       []string
		}{
			{"no password", path, map[string]any{}, []string{"password.value:REQUIRED"}},
			{"empty password", path, map[string]any{"password": pw("")}, []string{"password.value:REQUIRED"}},
			{"password over 100 characters", path, map[string]any{"password": pw(strings.Repeat("a", 101))}, []string{"password.value:SIZE"}},
			{"user id not numeric", "/multi/passwords/abc/create", map[string]any{"password": pw(testPassword)}, []string{"user_id:REGEX"}},
			{"user id too long", "/multi/passwords/" + strings.Repeat("1", 21) + "/create", map[string]any{"password": pw(testPassword)}, []string{"user_id:REGEX"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				assert.Equal(t, tt.want, e.key("POST", tt.path, tt.body).invalidFields(t))
			})
		}
	})
	// Weavr's answer for a user it cannot resolve, whether unknown or another programme's.
	t.Run("unknown user", func(t *testing.T) {
		r := e.key("POST", "/multi/passwords/999999999999/create", map[string]any{"password": pw(testPassword)})
		assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		assert.Equal(t, "UNRESOLVED_IDENTITY", r.errorCode(t))
	})
	t.Run("user of another programme", func(t *testing.T) {
		otherKey := e.otherProgramme("Other")
		r := e.call("POST", "/multi/corporates", corporateBody("other@acme.test"), "api-key", otherKey)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		otherID := str(t, r.json(t), "id", "id")
		r = e.key("POST", "/multi/passwords/"+otherID+"/create", map[string]any{"password": pw(testPassword)})
		assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		assert.Equal(t, "UNRESOLVED_IDENTITY", r.errorCode(t))
	})

	// None of the failures above set a password: the first valid one succeeds.
	r := e.key("POST", path, map[string]any{"password": pw(testPassword)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	body := r.json(t)
	assert.Equal(t, map[string]any{"type": "CORPORATE", "id": rootID}, body["passwordInfo"].(map[string]any)["identityId"])
	token := str(t, body, "token")
	assert.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status, "the returned token signs the user in")
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", testPassword).status)

	r = e.key("POST", path, map[string]any{"password": pw("An0ther-Password")})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "PASSWORD_ALREADY_CREATED", r.errorCode(t))
	assert.Equal(t, http.StatusForbidden, e.login("root@acme.test", "An0ther-Password").status, "the second password was not stored")

	r = e.call("POST", path, map[string]any{"password": pw(testPassword)}, "api-key", "dsk_unknown")
	assert.Equal(t, http.StatusUnauthorized, r.status, "unknown api-key")
}

// A deactivated user gets no first password and no token: 409
// USER_INACTIVE; activated again, they do.
func TestPasswordCreateForADeactivatedUser(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bea := e.createUser(root.token, userBody("bea@acme.test"))
	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "deactivate"), nil))

	path := "/multi/passwords/" + bea + "/create"
	r := e.key("POST", path, map[string]any{"password": pw(testPassword)})
	wantConflict(t, r, "USER_INACTIVE")
	assert.NotContains(t, r.body, "dst_", "no session")
	assert.Equal(t, http.StatusForbidden, e.login("bea@acme.test", testPassword).status, "no password stored")

	wantNoContent(t, e.auth(root.token, "POST", userPath(bea, "activate"), nil))
	require.Equal(t, http.StatusOK, e.key("POST", path, map[string]any{"password": pw(testPassword)}).status)
	assert.Equal(t, http.StatusOK, e.login("bea@acme.test", testPassword).status)
}

func TestPasswordUpdate(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	update := func(token, oldPw, newPw string) resp {
		t.Helper()
		return e.auth(token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(oldPw), "newPassword": pw(newPw)})
	}

	r := update(token, "Wr0ng-Password", "N3w-Password")
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "PASSWORD_INCORRECT", r.errorCode(t))

	for _, tt := range profileViolations {
		r := update(token, testPassword, tt.password)
		require.Equal(t, http.StatusConflict, r.status, "%s: %s", tt.name, r.body)
		assert.Equal(t, tt.code, r.errorCode(t), tt.name)
	}
	assert.Equal(t, []string{"oldPassword.value:REQUIRED"},
		e.auth(token, "POST", "/multi/passwords/update", map[string]any{"newPassword": pw("N3w-Password")}).invalidFields(t))
	assert.Equal(t, []string{"newPassword.value:REQUIRED"},
		e.auth(token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword)}).invalidFields(t))
	assert.Equal(t, http.StatusUnauthorized,
		e.key("POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Password")}).status,
		"no bearer token")

	// Five changes: testPassword, then history[0] .. history[4] is current.
	history := []string{testPassword, "N3w-Password-1", "N3w-Password-2", "N3w-Password-3", "N3w-Password-4", "N3w-Password-5"}
	for i := 1; i < len(history); i++ {
		r := update(token, history[i-1], history[i])
		require.Equal(t, http.StatusOK, r.status, "change %d: %s", i, r.body)
		next := str(t, r.json(t), "token")
		assert.NotEqual(t, token, next)
		assert.Equal(t, http.StatusUnauthorized, e.auth(token, "GET", "/multi/corporates", nil).status, "change %d: the old token is dead", i)
		assert.Equal(t, http.StatusOK, e.auth(next, "GET", "/multi/corporates", nil).status, "change %d: the new token works", i)
		token = next
	}
	current := history[len(history)-1]
	for _, used := range history[1:] { // the current password and the four before it
		r := update(token, current, used)
		require.Equal(t, http.StatusConflict, r.status, "%s: %s", used, r.body)
		assert.Equal(t, "PASSWORD_ALREADY_USED", r.errorCode(t), "%s is one of the last 5", used)
	}
	r = update(token, current, history[0])
	require.Equal(t, http.StatusOK, r.status, "the sixth-newest password may come back: %s", r.body)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", history[0]).status)
	assert.Equal(t, http.StatusForbidden, e.login("root@acme.test", current).status)
}

func TestPasswordUpdateEndsEverySession(t *testing.T) {
	e := newEnv(t)
	_, created := e.corporate("root@acme.test")
	other := str(t, e.login("root@acme.test", testPassword).json(t), "token")
	r := e.auth(created, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw("N3w-Password")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, http.StatusUnauthorized, e.auth(created, "GET", "/multi/corporates", nil).status)
	assert.Equal(t, http.StatusUnauthorized, e.auth(other, "GET", "/multi/corporates", nil).status)
	assert.Equal(t, http.StatusOK, e.auth(str(t, r.json(t), "token"), "GET", "/multi/corporates", nil).status)
}

func TestPasswordValidate(t *testing.T) {
	e := newEnv(t)
	r := e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(testPassword)})
	assert.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Empty(t, r.body)
	for _, tt := range profileViolations {
		t.Run(tt.name, func(t *testing.T) {
			r := e.key("POST", "/multi/passwords/validate", map[string]any{"password": pw(tt.password)})
			require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
			assert.Equal(t, tt.code, r.errorCode(t))
		})
	}
	assert.Equal(t, []string{"password.value:REQUIRED"}, e.key("POST", "/multi/passwords/validate", map[string]any{}).invalidFields(t))
	assert.Equal(t, http.StatusBadRequest, e.call("POST", "/multi/passwords/validate", map[string]any{"password": pw(testPassword)}).status, "no api-key")
}

func TestLostPasswordStart(t *testing.T) {
	e := newEnv(t)
	e.corporate("root@acme.test")
	e.newCorporateWithoutPassword("nopass@acme.test")

	r := e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "nobody@acme.test"})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	r = e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "nopass@acme.test"})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Empty(t, e.outbox(), "nothing is sent for an unknown email or a user without a password")

	r = e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "Root@Acme.test"})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Empty(t, r.body)
	msgs := e.outbox()
	require.Len(t, msgs, 1)
	assert.Equal(t, "EMAIL", msgs[0].Channel)
	assert.Equal(t, "root@acme.test", msgs[0].To)
	assert.Contains(t, msgs[0].Text, "123456", "the sandbox code")

	assert.Equal(t, []string{"email:REGEX"}, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": "nope"}).invalidFields(t))
	assert.Equal(t, []string{"email:REQUIRED"}, e.key("POST", "/multi/passwords/lost_password/start", map[string]any{}).invalidFields(t))
}

// resume calls lost_password/resume.
func (e *env) resume(email, code, newPw string) resp {
	e.t.Helper()
	return e.key("POST", "/multi/passwords/lost_password/resume", map[string]any{"nonce": code, "email": email, "newPassword": pw(newPw)})
}

// startReset calls lost_password/start and expects 204.
func (e *env) startReset(email string) {
	e.t.Helper()
	r := e.key("POST", "/multi/passwords/lost_password/start", map[string]any{"email": email})
	require.Equal(e.t, http.StatusNoContent, r.status, "%s", r.body)
}

func requireConflict(t *testing.T, r resp, code string) {
	t.Helper()
	require.Equal(t, http.StatusConflict, r.status, "body: %s", r.body)
	assert.Equal(t, code, r.errorCode(t))
}

func TestLostPasswordResume(t *testing.T) {
	const email, newPassword = "root@acme.test", "Res3t-Password"

	t.Run("invalid nonce or email", func(t *testing.T) {
		e := newEnv(t)
		e.corporate(email)
		requireConflict(t, e.resume(email, "123456", newPassword), "INVALID_NONCE_OR_EMAIL") // nothing started
		e.startReset(email)
		requireConflict(t, e.resume("nobody@acme.test", "123456", newPassword), "INVALID_NONCE_OR_EMAIL")
		requireConflict(t, e.resume(email, "654321", newPassword), "INVALID_NONCE_OR_EMAIL")
		require.Equal(t, http.StatusOK, e.resume(email, "123456", newPassword).status, "one wrong guess does not void the code")
	})

	t.Run("bad requests", func(t *testing.T) {
		e := newEnv(t)
		tests := []struct {
			name string
			body map[string]any
			want []string
		}{
			{"nonce not six digits", map[string]any{"nonce": "12345", "email": email, "newPassword": pw(newPassword)}, []string{"nonce:REGEX"}},
			{"no nonce", map[string]any{"email": email, "newPassword": pw(newPassword)}, []string{"nonce:REQUIRED"}},
			{"no email", map[string]any{"nonce": "123456", "newPassword": pw(newPassword)}, []string{"email:REQUIRED"}},
			{"no new password", map[string]any{"nonce": "123456", "email": email}, []string{"newPassword.value:REQUIRED"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				assert.Equal(t, tt.want, e.key("POST", "/multi/passwords/lost_password/resume", tt.body).invalidFields(t))
			})
		}
	})

	t.Run("five wrong codes void it", func(t *testing.T) {
		e := newEnv(t)
		e.corporate(email)
		e.startReset(email)
		for i := range 5 {
			requireConflict(t, e.resume(email, "000000", newPassword), "INVALID_NONCE_OR_EMAIL")
			_ = i
		}
		requireConflict(t, e.resume(email, "123456", newPassword), "INVALID_NONCE_OR_EMAIL")
		assert.Equal(t, http.StatusOK, e.login(email, testPassword).status, "the password is unchanged")

		e.startReset(email)
		assert.Equal(t, http.StatusOK, e.resume(email, "123456", newPassword).status, "a new code works again")
	})

	t.Run("expires after 15 minutes", func(t *testing.T) {
		e := newEnv(t)
		e.corporate(email)
		e.startReset(email)
		e.advance(14*time.Minute + 59*time.Second)
		require.Equal(t, http.StatusOK, e.resume(email, "123456", newPassword).status, "still valid at 14:59")

		e.startReset(email)
		e.advance(15 * time.Minute)
		requireConflict(t, e.resume(email, "123456", "An0ther-Password"), "INVALID_NONCE_OR_EMAIL")
		assert.Equal(t, http.StatusOK, e.login(email, newPassword).status, "the password is unchanged")
	})

	t.Run("success ends old sessions and signs in", func(t *testing.T) {
		e := newEnv(t)
		_, created := e.corporate(email)
		login := str(t, e.login(email, testPassword).json(t), "token")
		e.startReset(email)

		r := e.resume(email, "123456", newPassword)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		token := str(t, r.json(t), "token")
		assert.Equal(t, http.StatusOK, e.auth(token, "GET", "/multi/corporates", nil).status, "the returned token works")
		assert.Equal(t, http.StatusUnauthorized, e.auth(created, "GET", "/multi/corporates", nil).status, "old sessions end")
		assert.Equal(t, http.StatusUnauthorized, e.auth(login, "GET", "/multi/corporates", nil).status, "old sessions end")
		assert.Equal(t, http.StatusOK, e.login(email, newPassword).status)
		assert.Equal(t, http.StatusForbidden, e.login(email, testPassword).status)
		requireConflict(t, e.resume(email, "123456", "An0ther-Password"), "INVALID_NONCE_OR_EMAIL") // single use
	})

	t.Run("a rejected new password keeps the code", func(t *testing.T) {
		// All or nothing: a resume that fails on the new password changes nothing,
		// so the user may retry with a better one.
		e := newEnv(t)
		e.corporate(email)
		e.startReset(email)
		requireConflict(t, e.resume(email, "123456", "weak"), "PASSWORD_TOO_SHORT")
		requireConflict(t, e.resume(email, "123456", "no-upper-1"), "PASSWORD_TOO_SIMPLE")
		requireConflict(t, e.resume(email, "123456", testPassword), "PASSWORD_ALREADY_USED")
		require.Equal(t, http.StatusOK, e.resume(email, "123456", newPassword).status)
	})
}

// Parallel password changes with one session: exactly one wins, and the
// others change nothing (all or nothing, decided by the store).
func TestPasswordUpdateParallelChangesOneWins(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")
	const n = 10
	results := make([]resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.auth(token, "POST", "/multi/passwords/update",
				map[string]any{"oldPassword": pw(testPassword), "newPassword": pw(fmt.Sprintf("N3w-Password-%d", i))})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, r := range results {
		switch r.status {
		case http.StatusOK:
			require.Equal(t, -1, winner, "two changes succeeded: %d and %d", winner, i)
			winner = i
		case http.StatusUnauthorized: // the winner ended this session first
		case http.StatusConflict:
			assert.Equal(t, "PASSWORD_INCORRECT", r.errorCode(t), "the old password is no longer the password")
		case http.StatusLocked: // five changes checked their old password after the winner's commit
		default:
			t.Errorf("change %d: got %d (%s), want 200, 401, 409 or 423", i, r.status, r.body)
		}
	}
	require.NotEqual(t, -1, winner, "one change succeeds")
	// A change that read the password after the winner's commit sent a wrong
	// current password, which counts towards the lockout: wait it out.
	e.advance(30 * time.Minute)
	assert.Equal(t, http.StatusOK, e.login("root@acme.test", fmt.Sprintf("N3w-Password-%d", winner)).status, "the winner's password")
	failures := 0
	for i := range n {
		if i == winner {
			continue
		}
		assert.Equal(t, http.StatusForbidden, e.login("root@acme.test", fmt.Sprintf("N3w-Password-%d", i)).status, "password %d", i)
		if failures++; failures == 4 { // a fifth in a row would lock the user
			require.Equal(t, http.StatusOK, e.login("root@acme.test", fmt.Sprintf("N3w-Password-%d", winner)).status)
			failures = 0
		}
	}
}

// TestPasswordIsNotTheEmail: no path that sets a password accepts the user's
// own email, in any case (NIST SP 800-63B 5.1.1.2: context-specific words
// such as the username), though the NIST profile has no composition rule
// that would refuse it.
func TestPasswordIsNotTheEmail(t *testing.T) {
	const email = "root.user@acme.test"
	e := newEnv(t)
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, core.ProgrammeSettings{PasswordProfile: "nist"})
	require.NoError(t, err)
	r := e.key("POST", "/multi/corporates", corporateBody(email))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rootID := str(t, r.json(t), "id", "id")
	create := func(p string) resp {
		return e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(p)})
	}
	requireConflict(t, create(email), "PASSWORD_TOO_SIMPLE")
	requireConflict(t, create("Root.User@ACME.test"), "PASSWORD_TOO_SIMPLE")
	r = create(testPassword)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	token := str(t, r.json(t), "token")

	r = e.auth(token, "POST", "/multi/passwords/update", map[string]any{"oldPassword": pw(testPassword), "newPassword": pw(email)})
	requireConflict(t, r, "PASSWORD_TOO_SIMPLE")
	e.startReset(email)
	requireConflict(t, e.resume(email, sandboxCode, email), "PASSWORD_TOO_SIMPLE")

	e.stepUp(token)
	bea := e.createUser(token, userBody("bea.smith@acme.test"))
	e.invite(token, bea)
	requireConflict(t, e.consumeInvite(bea, sandboxCode, "bea.smith@acme.test", nil), "PASSWORD_TOO_SIMPLE")
	assert.Equal(t, http.StatusOK, e.login(email, testPassword).status, "the password is unchanged")
}

// TestPasswordInAnyUnicodeForm: a password set in one Unicode form signs in
// typed in another (NFKC): composed or decomposed, full-width or not.
func TestPasswordInAnyUnicodeForm(t *testing.T) {
	const email = "root.user@acme.test"
	e := newEnv(t)
	r := e.key("POST", "/multi/corporates", corporateBody(email))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rootID := str(t, r.json(t), "id", "id")
	r = e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw("Contrasen\u0303a-Fuerte1")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, typed := range []string{"Contrase\u00f1a-Fuerte1", "Ｃｏｎｔｒａｓｅñａ-Ｆｕｅｒｔｅ１"} {
		assert.Equal(t, http.StatusOK, e.login(email, typed).status, "%q", typed)
	}
	assert.Equal(t, http.StatusForbidden, e.login(email, "Contrasena-Fuerte1").status, "n is not ñ")
}

// TestPasswordIsNotTheEmailAsTyped: the email is refused however it is
// spelt, not only in its stored form: a domain is stored in its ASCII form
// (punycode) and a user types it as they know it.
func TestPasswordIsNotTheEmailAsTyped(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.UpdateProgrammeSettings(context.Background(), e.prog.ID, nil, core.ProgrammeSettings{PasswordProfile: "nist"})
	require.NoError(t, err)
	r := e.key("POST", "/multi/corporates", corporateBody("root.user@bücher.test"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rootID := str(t, r.json(t), "id", "id")
	for _, p := range []string{"root.user@bücher.test", "Root.User@BÜCHER.test", "root.user@xn--bcher-kva.test", "ｒｏｏｔ.ｕｓｅｒ@bücher.test"} {
		r := e.key("POST", "/multi/passwords/"+rootID+"/create", map[string]any{"password": pw(p)})
		requireConflict(t, r, "PASSWORD_TOO_SIMPLE")
	}
}

// heldUpdates is a store whose write transactions wait while held.
type heldUpdates struct {
	core.Store
	held atomic.Pointer[chan struct{}]
}

func (s *heldUpdates) Update(ctx context.Context, fn func(core.Tx) error) error {
	if ch := s.held.Load(); ch != nil {
		<-*ch
	}
	return s.Store.Update(ctx, fn)
}

// TestLostPasswordStartWhileResetsAreStoring: outside sandbox a reset
// answers before its work, which holds one of its programme's slots until
// stored. While the store holds them all, the programme's next reset waits
// its while and gets 503 with Retry-After, the same answer for an address
// with a user as for one without; another programme's reset still answers
// 204; once the store frees them, resets answer 204 again and the user's
// email is sent.
func TestLostPasswordStartWhileResetsAreStoring(t *testing.T) {
	store := &heldUpdates{}
	e, _ := newEnvOverStore(t, server.Options{}, func(s core.Store) core.Store { store.Store = s; return store }, notSandbox)
	e.corporate("root@acme.test")
	other, err := e.svc.CreateProgramme(context.Background(), core.NewProgramme{Name: "Other Programme"})
	require.NoError(t, err)
	start := func(apiKey, email string) resp {
		return e.call("POST", "/multi/passwords/lost_password/start", map[string]any{"email": email}, "api-key", apiKey)
	}
	release := make(chan struct{})
	store.held.Store(&release)

	var answered int
	var r resp
	for answered = 0; answered <= 64; answered++ { // no more than the slots of all programmes
		if r = start(e.apiKey, fmt.Sprintf("u%d@acme.test", answered)); r.status != http.StatusNoContent {
			break
		}
	}
	require.Equal(t, http.StatusServiceUnavailable, r.status, "after %d answered: %s", answered, r.body)
	require.Positive(t, answered)
	var known, unknown resp
	var wg sync.WaitGroup
	wg.Go(func() { known = start(e.apiKey, "root@acme.test") })
	wg.Go(func() { unknown = start(e.apiKey, "nobody@acme.test") })
	wg.Wait()
	for _, r := range []resp{known, unknown} {
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err)
		assert.Positive(t, wait)
	}
	assert.Equal(t, known.body, unknown.body, "the same answer whether the address has a user")
	assert.Equal(t, known.header.Get("Retry-After"), unknown.header.Get("Retry-After"))
	assert.Equal(t, http.StatusNoContent, start(other.APIKey, "root@acme.test").status, "another programme's reset")

	close(release)
	e.svc.WaitForMail()
	require.Equal(t, http.StatusNoContent, start(e.apiKey, "root@acme.test").status)
	e.svc.WaitForMail()
	var msgs []*core.Message
	require.NoError(t, e.store.View(context.Background(), func(tx core.ReadTx) error {
		msgs, err = tx.Outbox(e.prog.ID, nil, 0, 10)
		return err
	}))
	require.Len(t, msgs, 1, "the user's reset email, and nothing for the unknown addresses")
	assert.Equal(t, "root@acme.test", msgs[0].To)
}
