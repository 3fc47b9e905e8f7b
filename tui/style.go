package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// styles are the UI's looks, built once per program and handed to every
// screen (no package-level state). Every screen reads well without colour:
// selection is marked with "›" as well as reverse video and errors start with
// "✗", so the program's colour profile (NO_COLOR gives ASCII, a pipe gives
// none) only takes the decoration away.
type styles struct {
	title, badge, header, selected, dim, err, ok, label, focus, box lipgloss.Style
}

func newStyles() styles {
	accent := lipgloss.Color("63")
	dim := lipgloss.Color("245")
	return styles{
		title:    lipgloss.NewStyle().Bold(true).Foreground(accent),
		badge:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("214")),
		header:   lipgloss.NewStyle().Bold(true),
		selected: lipgloss.NewStyle().Reverse(true),
		dim:      lipgloss.NewStyle().Foreground(dim),
		err:      lipgloss.NewStyle().Foreground(lipgloss.Color("203")),
		ok:       lipgloss.NewStyle().Foreground(lipgloss.Color("42")),
		label:    lipgloss.NewStyle().Foreground(dim),
		focus:    lipgloss.NewStyle().Bold(true).Foreground(accent),
		box:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
	}
}

// errLine renders an error for the admin.
func (st styles) errLine(text string) string { return st.err.Render("✗ " + text) }

// fit cuts s to width cells, with an ellipsis when it had to cut, and pads it
// to exactly width.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	s = ansi.Truncate(s, width, "…")
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// clip cuts a block of lines to at most height lines.
func clip(block string, height int) string {
	if height <= 0 {
		return ""
	}
	lines := strings.Split(block, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	return strings.Join(lines, "\n")
}

// wrapText wraps s at spaces to lines of at most width cells.
func wrapText(s string, width int) string {
	if width < 10 {
		return s
	}
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			switch {
			case line == "":
				line = word
			case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= width:
				line += " " + word
			default:
				lines = append(lines, line)
				line = word
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
