package screens

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/server/client"
)

// SignInScreen signs a user in with email and password (Weavr loginWithPassword).
type SignInScreen struct {
	Notice   *widget.Label
	Email    *widget.Entry
	Password *widget.Entry
	SignIn   *widget.Button
	Back     *widget.Button
	Problem  *ProblemBox
	busy     busy
	content  fyne.CanvasObject
	env      Env
	api      KeyAPI
	done     func(token, email, userID string)
}

// NewSignInScreen builds the screen. notice, when not empty, says why the
// user is here (their session ended); email prefills the address. done runs
// on the UI goroutine with the new session's token.
func NewSignInScreen(e Env, api KeyAPI, notice, email string, done func(token, email, userID string), back func()) *SignInScreen {
	s := &SignInScreen{env: e.withDefaults(), api: api, done: done}
	s.Notice = para(notice)
	s.Notice.Importance = widget.WarningImportance
	if notice == "" {
		s.Notice.Hide()
	}
	s.Email = widget.NewEntry()
	s.Email.SetPlaceHolder("you@example.com")
	s.Email.SetText(email)
	s.Password = widget.NewPasswordEntry()
	s.SignIn = primary("Sign in", s.submit)
	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.Password.OnSubmitted = func(string) { s.submit() }
	s.Email.OnChanged = func(string) { s.Problem.Hide() }
	s.Password.OnChanged = func(string) { s.Problem.Hide() }
	s.content = page("Sign in",
		s.Notice,
		fieldLabel("Email"), s.Email,
		fieldLabel("Password"), s.Password,
		s.SignIn, s.busy, s.Problem.Object(),
		s.Back,
	)
	return s
}

// Content implements Screen.
func (s *SignInScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *SignInScreen) Close() {}

func (s *SignInScreen) submit() {
	if s.SignIn.Disabled() {
		return
	}
	email, pw := strings.TrimSpace(s.Email.Text), s.Password.Text
	if email == "" || pw == "" {
		s.Problem.ShowText("Enter your email and password.")
		return
	}
	s.SignIn.Disable()
	s.busy.on()
	run(s.env, func(ctx context.Context) (*client.Login, error) {
		return s.api.LoginWithPassword(ctx, email, pw)
	}, func(l *client.Login, err error) {
		s.busy.off()
		s.SignIn.Enable()
		if err != nil {
			s.Problem.Show(describeKeyCall(err), s.submit)
			return
		}
		s.Password.SetText("")
		s.done(l.Token, email, l.Credentials.ID)
	})
}
