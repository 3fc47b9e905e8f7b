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
