package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Screen is one page of the companion.
type Screen interface {
	// Content is what the window shows.
	Content() fyne.CanvasObject
	// Close stops the screen's timers and background work; the companion
	// calls it when it moves to another screen.
	Close()
}

// page lays a screen out as phones expect: a heading, then the items in a
// column that scrolls when it does not fit.
func page(title string, items ...fyne.CanvasObject) fyne.CanvasObject {
	h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.SizeName = theme.SizeNameHeadingText
	h.Wrapping = fyne.TextWrapWord
	col := container.NewVBox(append([]fyne.CanvasObject{h}, items...)...)
	return container.NewVScroll(container.NewPadded(col))
}

// layoutAgain lays a page (as page builds it) out again from its column
// down, for a screen that has hidden part of itself. The window lays out
// again the parent of what changed size, but keeps one such parent per pass
// over its objects (fyne 2.7, Canvas.EnsureMinSize): a later change, such as
// a list refilled with new rows, takes the place of an earlier one, and the
// column then keeps the room of what was hidden, as a gap.
func layoutAgain(p fyne.CanvasObject) {
	scroll, ok := p.(*container.Scroll)
	if !ok {
		p.Refresh()
		return
	}
	if pad, ok := scroll.Content.(*fyne.Container); ok {
		for _, col := range pad.Objects {
			col.Refresh() // a container's Refresh lays it out at its size
		}
	}
	scroll.Refresh()
}

// para is a paragraph of wrapped text.
func para(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// fieldLabel is the caption above an entry.
func fieldLabel(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// primary is the screen's main button.
func primary(text string, tapped func()) *widget.Button {
	b := widget.NewButton(text, tapped)
	b.Importance = widget.HighImportance
	return b
}

// busy is a spinner shown while a call runs.
type busy struct {
	*widget.Activity
}

func newBusy() busy {
	a := widget.NewActivity()
	a.Hide()
	return busy{a}
}

func (b busy) on()  { b.Show(); b.Start() }
func (b busy) off() { b.Stop(); b.Hide() }
