package tui

import (
	"fmt"
	"strings"
)

// scrollBlock is what a screen shows drawn as lines, in rows: the part that
// scrolls when it is taller than the room it has (the user form, the user's
// details). What is cut at the top is whole rows; below the first row, the
// first line shown says what is above it, and the line under the room says
// what is below.
type scrollBlock struct {
	lines []string
	rows  []scrollRow // in order; the first starts at line 0
}

// scrollRow is where one row sits in a scrollBlock's lines: lines
// [start, end), of which [errAt, end) are its error, if it has one (bad).
type scrollRow struct {
	start, errAt, end int
	bad               bool
}

// fits reports whether the block needs no scrolling in room lines.
func (b scrollBlock) fits(room int) bool { return len(b.lines) <= room }

// shownFrom is how many of the block's lines room shows from line top: all
// but the one saying what is above, once there is something above.
func shownFrom(top, room int) int {
	if top > 0 {
		return room - 1
	}
	return room
}

// last is the first line shown when scrolled to the end: the start of the
// earliest row from which every row to the end is shown in full (the last
// row's start when even it is too tall).
func (b scrollBlock) last(room int) int {
	if b.fits(room) || len(b.rows) == 0 {
		return 0
	}
	top := b.rows[len(b.rows)-1].start
	for i := len(b.rows) - 2; i >= 0; i-- {
		r := b.rows[i]
		if len(b.lines)-r.start > shownFrom(r.start, room) {
			break
		}
		top = r.start
	}
	return top
}

// follow is the first line to show, from top, so that row focus (with its
// error and hint) is in view: moved as little as it takes, to the start of
// a row, and backed up to show the last rows in full when there is room.
func (b scrollBlock) follow(top, room, focus int) int {
	if b.fits(room) || focus >= len(b.rows) {
		return 0
	}
	f := b.rows[focus]
	top = min(top, len(b.lines))
	if f.start < top {
		top = f.start
	}
	if f.end > top+shownFrom(top, room) {
		top = f.end - shownFrom(1, room)
		for _, r := range b.rows { // to the start of a row, the focused one at the latest
			if r.start >= top {
				top = min(r.start, f.start)
				break
			}
		}
	}
	return min(top, b.last(room))
}

// scroll is the first line to show after moving n rows on from top (back
// when n is negative), between the first row and the end.
func (b scrollBlock) scroll(top, room, n int) int {
	if b.fits(room) {
		return 0
	}
	i := 0
	for j, r := range b.rows {
		if r.start <= top {
			i = j
		}
	}
	i = max(0, min(len(b.rows)-1, i+n))
	return min(b.rows[i].start, b.last(room))
}

// pageDown is the first line to show a page on from top: the first row not
// shown in full becomes the first shown.
func (b scrollBlock) pageDown(top, room int) int {
	bottom := top + shownFrom(top, room)
	for _, r := range b.rows {
		if r.start > top && r.end > bottom {
			return min(r.start, b.last(room))
		}
	}
	return b.last(room)
}

// pageUp is the first line to show a page back from top: the earliest row
// from which the rows above top fill the room, or at least one row back.
func (b scrollBlock) pageUp(top, room int) int {
	for _, r := range b.rows {
		if r.start < top && top-r.start <= shownFrom(r.start, room) {
			return r.start
		}
	}
	return b.scroll(top, room, -1)
}

// view is the lines room shows from top, the first saying what is above
// when something is, and the line saying what is below ("" when nothing
// is); the whole block and "" when it fits.
func (b scrollBlock) view(st *styles, top, room int) (lines []string, below string) {
	if b.fits(room) {
		return b.lines, ""
	}
	end := min(len(b.lines), top+shownFrom(top, room))
	var up, down moreRows
	for _, r := range b.rows {
		up.count(r, 0, top)
		down.count(r, end, len(b.lines))
	}
	lines = b.lines[top:end]
	if top > 0 {
		lines = append([]string{"  " + st.dim.Render(up.text("↑", "above"))}, lines...)
	}
	if end < len(b.lines) {
		below = "  " + st.dim.Render(down.text("↓", "below"))
	}
	return lines, below
}

// moreRows counts the rows out of view on one side, for the line that says
// they are there.
type moreRows struct{ rows, errs int }

// count adds r if its first line is within the hidden lines [from, to), and
// its error if that is.
func (m *moreRows) count(r scrollRow, from, to int) {
	if r.start >= from && r.start < to {
		m.rows++
	}
	if r.bad && r.end > from && r.errAt < to {
		m.errs++
	}
}

// text reads "↓ 2 more fields below · 1 error".
func (m moreRows) text(arrow, where string) string {
	var parts []string
	switch m.rows {
	case 0:
	case 1:
		parts = append(parts, "1 more field "+where)
	default:
		parts = append(parts, fmt.Sprintf("%d more fields %s", m.rows, where))
	}
	switch m.errs {
	case 0:
	case 1:
		parts = append(parts, "1 error")
	default:
		parts = append(parts, fmt.Sprintf("%d errors", m.errs))
	}
	if len(parts) == 0 {
		return arrow + " more " + where
	}
	if m.rows == 0 {
		parts[0] += " " + where
	}
	return arrow + " " + strings.Join(parts, " · ")
}
