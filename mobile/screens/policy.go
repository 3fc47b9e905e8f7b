package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/deputyhq/deputy/password"
)

// PolicyView lists a password profile's rules (password.Profile.Describe)
// and ticks each one as the password being typed satisfies it.
type PolicyView struct {
	Icons []*widget.Icon
	Rules []*widget.Label
	rules []password.Rule
	box   *fyne.Container
}

// NewPolicyView shows profile's rules, none ticked.
func NewPolicyView(profile password.Profile) *PolicyView {
	p := &PolicyView{rules: profile.Describe(), box: container.NewVBox()}
	for _, r := range p.rules {
		icon := widget.NewIcon(theme.RadioButtonIcon())
		label := widget.NewLabel(r.Text)
		label.Wrapping = fyne.TextWrapWord
		p.Icons = append(p.Icons, icon)
		p.Rules = append(p.Rules, label)
		p.box.Add(container.NewBorder(nil, nil, icon, nil, label))
	}
	return p
}

// Object is the view's canvas object.
func (p *PolicyView) Object() fyne.CanvasObject { return p.box }

// Update ticks the rules plain satisfies and reports whether it satisfies all.
func (p *PolicyView) Update(plain string) bool {
	all := true
	for i, r := range p.rules {
		ok := plain != "" && r.Check(plain) == nil
		all = all && ok
		if ok {
			p.Icons[i].SetResource(theme.NewSuccessThemedResource(theme.ConfirmIcon()))
			p.Rules[i].Importance = widget.SuccessImportance
		} else {
			p.Icons[i].SetResource(theme.RadioButtonIcon())
			p.Rules[i].Importance = widget.MediumImportance
		}
		p.Rules[i].Refresh()
	}
	return all
}

// Met reports whether rule i is ticked.
func (p *PolicyView) Met(i int) bool { return p.Rules[i].Importance == widget.SuccessImportance }
