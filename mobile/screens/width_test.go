package screens_test

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/mobile/screens"
	"github.com/deputyhq/deputy/server/client"
)

// narrowPhone is the width of a small phone's screen (360 dp, the most
// common Android width). A screen wider than this cannot be read whole on
// a phone: Fyne cannot shrink a button's text, so the page is cut off at the
// right. On a desktop the window silently grows instead.
const narrowPhone = 360

// noFactors answers Factors with nothing set up: a new user.
type noFactors struct{ screens.SessionAPI }

func (noFactors) Factors(context.Context) ([]client.Factor, error) { return nil, nil }

// TestScreensFitANarrowPhone: no text of ours, nor a requester's summary,
// makes a screen wider than a phone.
func TestScreensFitANarrowPhone(t *testing.T) {
	t.Run("home of a new user", func(t *testing.T) {
		h := newHarness(t)
		s := screens.NewHomeScreen(h.env(), noFactors{}, screens.HomeInfo{Who: "Signed in as grace@acme.test.", PushOffered: true}, screens.HomeActions{}, failExpired(t))
		h.show(s)
		h.waitFor("factors", s.SetUpBio.Visible)
		assert.Contains(t, s.BioStatus.Text, "also turns on SMS codes", "the fewest steps are still said")
		assert.LessOrEqual(t, s.Content().MinSize().Width, float32(narrowPhone), "the page's width")
	})
	t.Run("approvals with a long summary waiting", func(t *testing.T) {
		h := newHarness(t)
		push := newFakePush(t, h.clock.Now)
		auth, _ := newAuth(t, screens.NewPasscodeDialog(h.win, h.ui))
		now := h.clock.Now()
		first := client.PushChallenge{ID: "1", Kind: client.PushKindStepUp, Summary: "Sign in",
			Choices: []int{17, 42, 86}, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
		long := client.PushChallenge{ID: "2", Kind: client.PushKindStepUp, Summary: "Create user alice@example.com with roles ADMIN, FUNDS and CARDS",
			SummaryFromRequester: true, Choices: []int{17, 42, 86}, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
		s := screens.NewApprovalsScreen(h.env(), screens.ApprovalsDeps{API: push, Auth: auth}, []client.PushChallenge{first, long}, screens.ApprovalsActions{
			Answered: func(string, screens.Answer) {}, Back: noop, Expired: failExpired(t), Unlinked: func() { t.Error("unlinked") },
		})
		t.Cleanup(s.Close)
		h.show(s)
		assert.Len(t, s.Others.Objects, 1, "the second request is listed")
		assert.LessOrEqual(t, s.Content().MinSize().Width, float32(narrowPhone), "the page's width")
	})
}

// otherRequest returns the text and the button of the i-th other waiting
// request listed on s.
func otherRequest(t *testing.T, s *screens.ApprovalsScreen, i int) (*widget.Label, *widget.Button) {
	t.Helper()
	require.Greater(t, len(s.Others.Objects), i)
	row, ok := s.Others.Objects[i].(*fyne.Container)
	require.True(t, ok, "a row per request")
	var text *widget.Label
	var show *widget.Button
	for _, o := range row.Objects {
		switch o := o.(type) {
		case *widget.Label:
			text = o
		case *widget.Button:
			show = o
		}
	}
	require.NotNil(t, text)
	require.NotNil(t, show)
	return text, show
}
