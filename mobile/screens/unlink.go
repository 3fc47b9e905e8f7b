package screens

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/mobile/deeplink"
	"github.com/deputyhq/deputy/server/client"
)

// UnlinkScreen stops approvals on this device (Weavr unlinkDeviceUsingPush).
// Unlinking is sensitive, so a session that is not stepped up is asked for
// a texted code first (GUIDE convention 4: the server answers
// STEP_UP_REQUIRED, the screen steps up and repeats the call).
type UnlinkScreen struct {
	Explain *widget.Label
	Unlink  *widget.Button
	Code    *widget.Entry
	Confirm *widget.Button
	Done    *widget.Label
	Back    *widget.Button
	Problem *ProblemBox
	busy    busy
	codeBox *fyne.Container
	content fyne.CanvasObject

	env      Env
	sess     SessionAPI
	push     PushAPI
	finished func()
	expired  func(Problem)
	ref      string // the unlink's idempotency-ref, the same on the repeat
}

// NewUnlinkScreen builds the screen; finished runs once the device is unlinked.
func NewUnlinkScreen(e Env, sess SessionAPI, push PushAPI, finished, back func(), expired func(Problem)) *UnlinkScreen {
	s := &UnlinkScreen{env: e.withDefaults(), sess: sess, push: push, finished: finished, expired: expired, ref: client.NewIdempotencyRef()}
	s.Explain = para("This device stops receiving approvals and its key is no longer accepted. Until you set up a device again, sensitive operations are confirmed with SMS codes.")
	s.Unlink = widget.NewButton("Stop approvals on this device", s.unlink)
	s.Unlink.Importance = widget.DangerImportance
	s.Code = widget.NewEntry()
	s.Code.SetPlaceHolder("6-digit code")
	s.Confirm = primary("Confirm", s.confirm)
	s.codeBox = container.NewVBox(para("To check it is you, we texted a code to your mobile."), fieldLabel("Code"), s.Code, s.Confirm)
	s.codeBox.Hide()
	s.Done = para("This device no longer receives approvals.")
	s.Done.Importance = widget.SuccessImportance
	s.Done.Hide()
	s.Back = widget.NewButton("Back", back)
	s.Back.Importance = widget.LowImportance
	s.Problem = newProblemBox()
	s.busy = newBusy()
	s.content = page("Stop approvals here", s.Explain, s.Unlink, s.codeBox, s.Done, s.busy, s.Problem.Object(), s.Back)
	return s
}

// Content implements Screen.
func (s *UnlinkScreen) Content() fyne.CanvasObject { return s.content }

// Close implements Screen.
func (s *UnlinkScreen) Close() {}

// CodeAsked reports whether the screen asks for a texted code.
func (s *UnlinkScreen) CodeAsked() bool { return s.codeBox.Visible() }

func (s *UnlinkScreen) setBusy(on bool) {
	if on {
		s.busy.on()
		s.Unlink.Disable()
		s.Confirm.Disable()
		return
	}
	s.busy.off()
	s.Unlink.Enable()
	s.Confirm.Enable()
}

// unlink tries the call; a step-up demand texts a code.
func (s *UnlinkScreen) unlink() {
	s.Problem.Hide()
	s.setBusy(true)
	stepUpRef := client.NewIdempotencyRef()
	run(s.env, func(ctx context.Context) (bool, error) {
		err := s.push.UnlinkBiometric(ctx, client.IdempotencyRef(s.ref))
		if !errors.Is(err, client.ErrStepUpRequired) {
			return false, alreadyUnlinked(err)
		}
		return true, s.sess.StepUpSMS(ctx, client.IdempotencyRef(stepUpRef), client.StepUpFor(err))
	}, func(codeSent bool, err error) {
		s.setBusy(false)
		if err != nil {
			s.fail(err, s.unlink)
			return
		}
		if codeSent {
			s.Unlink.Hide()
			s.codeBox.Show()
			return
		}
		s.success()
	})
}

// confirm steps up with the code and repeats the unlink.
func (s *UnlinkScreen) confirm() {
	code := strings.TrimSpace(s.Code.Text)
	if deeplink.CheckCode(code) != nil {
		s.Problem.ShowText("Enter the 6 digits of the code we texted you.")
		return
	}
	s.Problem.Hide()
	s.setBusy(true)
	run0(s.env, func(ctx context.Context) error {
		err := s.sess.VerifyStepUpSMS(ctx, code)
		var ae *client.Error
		if err != nil && !(errors.As(err, &ae) && ae.Code == client.CodeAlreadyVerified) {
			return err
		}
		return alreadyUnlinked(s.push.UnlinkBiometric(ctx, client.IdempotencyRef(s.ref)))
	}, func(err error) {
		s.setBusy(false)
		if err != nil {
			s.Code.SetText("")
			s.fail(err, s.confirm)
			return
		}
		s.success()
	})
}

func (s *UnlinkScreen) fail(err error, retry func()) {
	p := describe(err)
	if p.SessionEnded {
		s.expired(p)
		return
	}
	s.Problem.Show(p, retry)
}

func (s *UnlinkScreen) success() {
	s.Unlink.Hide()
	s.codeBox.Hide()
	s.Explain.Hide()
	s.Done.Show()
	s.Back.SetText("Done")
	s.Back.Importance = widget.HighImportance
	s.Back.OnTapped = s.finished
	s.Back.Refresh()
}

// alreadyUnlinked treats "no device linked" as done.
func alreadyUnlinked(err error) error {
	var ae *client.Error
	if errors.As(err, &ae) && ae.Code == client.CodeChannelNotRegistered {
		return nil
	}
	return err
}
