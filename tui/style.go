package tui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/deputyhq/deputy/tui/stepup"
)

// palette is the UI's colours for one kind of terminal background. Every
// text colour reads at 4.5:1 or better (WCAG 2.2 AA) against the backgrounds
// that kind of terminal uses (contrast_test.go computes it), and none turns
// into the background's own colour on a 16- or 8-colour terminal.
type palette struct {
	accent  color.Color // titles, focused labels, borders
	dim     color.Color // hints, labels, the status line
	err, ok color.Color
	key     color.Color // the key of a help entry
	desc    color.Color // its description and the separators
	badgeFg color.Color // the SANDBOX badge, on its own background
	badgeBg color.Color
}

// darkPalette is for dark backgrounds (the default), lightPalette for light
// ones. Colours are xterm-256 indexes, so that a 256-colour terminal shows
// exactly the colours the contrast test measured.
func darkPalette() palette {
	return palette{accent: lipgloss.Color("111"), dim: lipgloss.Color("246"), err: lipgloss.Color("203"), ok: lipgloss.Color("42"),
		key: lipgloss.Color("252"), desc: lipgloss.Color("246"), badgeFg: lipgloss.Color("16"), badgeBg: lipgloss.Color("214")}
}

func lightPalette() palette {
	return palette{accent: lipgloss.Color("61"), dim: lipgloss.Color("241"), err: lipgloss.Color("160"), ok: lipgloss.Color("22"),
		key: lipgloss.Color("236"), desc: lipgloss.Color("241"), badgeFg: lipgloss.Color("16"), badgeBg: lipgloss.Color("214")}
}

// paletteFor returns the palette for a dark or a light background.
func paletteFor(dark bool) palette {
	if dark {
		return darkPalette()
	}
	return lightPalette()
}

// styles are the UI's looks, built from a palette and shared by every screen
// of one program (no package-level state): when the terminal reports a light
// background the root model rebuilds them in place. Every screen reads well
// without colour: selection is marked with "›" as well as reverse video and
// errors start with "✗", so the program's colour profile (NO_COLOR gives
// ASCII, a pipe gives none) only takes the decoration away.
type styles struct {
	pal                                                             palette
	title, badge, header, selected, dim, err, ok, label, focus, box lipgloss.Style
	help                                                            help.Styles
}

func newStyles(pal palette) *styles {
	key := lipgloss.NewStyle().Foreground(pal.key)
	desc := lipgloss.NewStyle().Foreground(pal.desc)
	return &styles{
		pal:      pal,
		title:    lipgloss.NewStyle().Bold(true).Foreground(pal.accent),
		badge:    lipgloss.NewStyle().Bold(true).Foreground(pal.badgeFg).Background(pal.badgeBg).Padding(0, 1),
		header:   lipgloss.NewStyle().Bold(true),
		selected: lipgloss.NewStyle().Reverse(true),
		dim:      lipgloss.NewStyle().Foreground(pal.dim),
		err:      lipgloss.NewStyle().Foreground(pal.err),
		ok:       lipgloss.NewStyle().Foreground(pal.ok),
		label:    lipgloss.NewStyle().Foreground(pal.dim),
		focus:    lipgloss.NewStyle().Bold(true).Foreground(pal.accent),
		box:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(pal.accent).Padding(0, 1),
		help: help.Styles{Ellipsis: desc, ShortKey: key, ShortDesc: desc, ShortSeparator: desc,
			FullKey: key, FullDesc: desc, FullSeparator: desc},
	}
}

// stepUpColors are the step-up modal's colours from the palette.
func (st *styles) stepUpColors() stepup.Colors {
	return stepup.Colors{Accent: st.pal.accent, Warn: st.pal.err, Dim: st.pal.dim}
}

// errLine renders an error for the admin.
func (st *styles) errLine(text string) string { return st.err.Render("✗ " + text) }

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

// firstFit is the first of texts that fits in width cells, else the last:
// a shorter wording for a narrow terminal rather than a cut one.
func firstFit(width int, texts ...string) string {
	for _, t := range texts {
		if ansi.StringWidth(t) <= width {
			return t
		}
	}
	return texts[len(texts)-1]
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
		lines = append(lines, packed(strings.Fields(para), " ", width)...)
	}
	return strings.Join(lines, "\n")
}

// packed puts parts, in order, on lines of at most width cells, sep between
// two on one line; a part wider than width has a line of its own.
func packed(parts []string, sep string, width int) []string {
	var lines []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "":
			line = p
		case ansi.StringWidth(line)+ansi.StringWidth(sep)+ansi.StringWidth(p) <= width:
			line += sep + p
		default:
			lines = append(lines, line)
			line = p
		}
	}
	return append(lines, line)
}

// wrapped wraps text to lines of width cells, each after indent and
// rendered in style: a sentence too long for a narrow terminal goes on to
// the next line rather than lose its end to an ellipsis. The first line
// starts with mark, the others with as many spaces.
func wrapped(style lipgloss.Style, indent, mark, text string, width int) string {
	lines := strings.Split(wrapText(text, width-ansi.StringWidth(indent+mark)), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = indent + style.Render(mark+l)
		} else {
			lines[i] = indent + strings.Repeat(" ", ansi.StringWidth(mark)) + style.Render(l)
		}
	}
	return strings.Join(lines, "\n")
}

// hint renders a dim hint after indent, wrapped to width.
func (st *styles) hint(indent, text string, width int) string {
	return wrapped(st.dim, indent, "", text, width)
}

// errText renders an error after indent as errLine does, wrapped to width
// under its first word.
func (st *styles) errText(indent, text string, width int) string {
	return wrapped(st.err, indent, "✗ ", text, width)
}
