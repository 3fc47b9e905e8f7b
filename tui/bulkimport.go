package tui

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/deputyhq/deputy/server/client"
)

// The CSV import: a file of users becomes one bulk of user creations (Weavr
// bulksUserCreate, bulkIdExecute), which the server runs in the background
// while this screen follows it with a progress bar and the rows that failed,
// each with its single call's error. p pauses and resumes it, x cancels it.

// importColumns are the columns a CSV may have, by header name; name,
// surname and email are required. roles are separated by ";".
var importColumns = []string{"name", "surname", "email", "mobileCountryCode", "mobileNumber", "tag", "roles"}

// importPoll is how often the screen reads a running import.
const importPoll = time.Second

// csvRow is a user read from the CSV, with the file line it came from.
type csvRow struct {
	line int
	user client.UserCreate
}

// rowError is a problem with one line of the file.
type rowError struct {
	line int
	text string
}

type (
	// csvReadMsg answers reading the file.
	csvReadMsg struct {
		rows    []csvRow
		errs    []rowError
		problem string // with the whole file, shown as it is
	}
	importSubmittedMsg struct {
		outcome
		bulk *client.Bulk
	}
	importStartedMsg struct{ outcome }
	importStateMsg   struct {
		outcome
		bulk   *client.Bulk
		failed *client.BulkOperationPage
	}
	importMovedMsg struct {
		outcome
		action string
	}
	importTickMsg struct{ id string }
)

type importKeys struct {
	Read, Pause, Cancel, Back key.Binding
}

func (k importKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Read, k.Pause, k.Cancel, k.Back}
}
func (k importKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Read, k.Pause, k.Cancel, k.Back}}
}

// importScreen picks a CSV file, submits it and follows the bulk.
type importScreen struct {
	deps
	w, h   int
	keys   importKeys
	path   textinput.Model
	rows   []csvRow
	errs   []rowError // the file's problems, or the server's per row
	errMsg string     // a problem with the whole file or call
	busy   bool       // a submit or start is under way
	bulk   *client.Bulk
	failed *client.BulkOperationPage
}

func newImport(d deps) (screen, tea.Cmd) {
	in := newInput("users.csv", 4096)
	in.Focus()
	s := importScreen{deps: d, path: in, keys: importKeys{
		Read:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "import")),
		Pause:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume")),
		Cancel: key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel import")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}}
	s.setKeys()
	return s, nil
}

func (s *importScreen) setKeys() {
	running := s.bulk != nil && !s.bulk.Final()
	s.keys.Read.SetEnabled(s.bulk == nil && !s.busy)
	s.keys.Pause.SetEnabled(running)
	s.keys.Cancel.SetEnabled(running)
}

func (s importScreen) Title() string     { return "Import users from CSV" }
func (s importScreen) Editing() bool     { return s.bulk == nil }
func (s importScreen) Keys() help.KeyMap { return s.keys }

func (s importScreen) SetSize(w, h int) screen {
	s.w, s.h = w, h
	s.path.SetWidth(max(10, w-12))
	return s
}

func (s importScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case csvReadMsg:
		if s.busy || s.bulk != nil {
			return s, nil // enter pressed again before the file was read: it is sent once
		}
		s.rows, s.errs, s.errMsg = msg.rows, msg.errs, ""
		switch {
		case msg.problem != "":
			s.errMsg = msg.problem
		case len(msg.errs) == 0:
			s.busy = true
			s.setKeys()
			return s, s.submit()
		}
		return s, nil
	case importSubmittedMsg:
		return s.submitted(msg)
	case importStartedMsg:
		s.busy = false
		if err := msg.failure(); err != nil {
			s.errMsg = "The import was stored but did not start: " + describe(err) + ". Press p to start it."
			s.setKeys()
			return s, nil
		}
		return s, s.read()
	case importStateMsg:
		if msg.failure() == nil {
			s.bulk, s.failed = msg.bulk, msg.failed
			s.setKeys()
		}
		if s.bulk != nil && !s.bulk.Final() {
			id := s.bulk.ID
			return s, s.clock.Tick(importPoll, func(time.Time) tea.Msg { return importTickMsg{id: id} })
		}
		return s, nil
	case importTickMsg:
		if s.bulk != nil && s.bulk.ID == msg.id {
			return s, s.read()
		}
		return s, nil
	case importMovedMsg:
		if msg.failure() == nil {
			return s, tea.Batch(tell(msg.action), s.read())
		}
		return s, nil
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	if s.bulk == nil {
		var cmd tea.Cmd
		s.path, cmd = s.path.Update(msg)
		return s, cmd
	}
	return s, nil
}

func (s importScreen) key(msg tea.KeyPressMsg) (screen, tea.Cmd) {
	switch {
	case key.Matches(msg, s.keys.Back):
		if s.bulk != nil && !s.bulk.Final() {
			return s, back("The import goes on in the background.")
		}
		return s, back("")
	case key.Matches(msg, s.keys.Read):
		path := strings.TrimSpace(s.path.Value())
		if path == "" {
			s.errMsg = "Type the path of a CSV file."
			return s, nil
		}
		return s, func() tea.Msg { return readCSV(path) }
	case key.Matches(msg, s.keys.Pause):
		if s.bulk.Status == client.BulkSubmitted {
			return s, s.start(s.bulk.ID)
		}
		return s, s.move(s.bulk.Status == client.BulkPaused)
	case key.Matches(msg, s.keys.Cancel):
		id := s.bulk.ID
		return s, do(op{name: "cancel the import", label: "Cancelling the import…",
			run: func(ctx context.Context, a api) result {
				return importMovedMsg{outcome: outcome{a.s.CancelBulk(ctx, id)}, action: "Import cancelled: no further rows will be created."}
			}})
	}
	if s.bulk == nil {
		var cmd tea.Cmd
		s.path, cmd = s.path.Update(msg)
		return s, cmd
	}
	return s, nil
}

// submit stores the rows as one bulk. It is quiet: a refusal is shown by
// row, on the screen.
func (s importScreen) submit() tea.Cmd {
	users := make([]client.UserCreate, len(s.rows))
	for i, r := range s.rows {
		users[i] = r.user
	}
	ref := client.NewIdempotencyRef()
	return do(op{name: fmt.Sprintf("import %d users", len(users)), label: "Sending the file…", quiet: true,
		run: func(ctx context.Context, a api) result {
			b, err := a.s.SubmitUserBulk(ctx, users, client.IdempotencyRef(ref))
			return importSubmittedMsg{outcome: outcome{err}, bulk: b}
		}})
}

// fieldRow reads a bulk field name, "[3].requestBody.email".
var fieldRow = regexp.MustCompile(`^\[(\d+)\]\.requestBody\.(.+)$`)

func (s importScreen) submitted(msg importSubmittedMsg) (screen, tea.Cmd) {
	s.busy = false
	err := msg.failure()
	var ae *client.Error
	switch {
	case err == nil:
		s.bulk = msg.bulk
		s.setKeys()
		return s, s.start(msg.bulk.ID)
	case errors.As(err, &ae) && len(ae.Fields) > 0:
		for _, f := range ae.Fields {
			if m := fieldRow.FindStringSubmatch(f.Field); m != nil {
				i, _ := strconv.Atoi(m[1])
				if i < len(s.rows) {
					s.errs = append(s.errs, rowError{line: s.rows[i].line, text: fieldLine(client.FieldError{Field: m[2], Reason: f.Reason, Params: f.Params})})
					continue
				}
			}
			s.errs = append(s.errs, rowError{text: fieldLine(f)})
		}
		s.errMsg = "Nothing was imported: fix these lines and press enter again."
	default:
		s.errMsg = "Nothing was imported: " + describe(err) + "."
	}
	s.setKeys()
	return s, nil
}

// start executes the bulk; the root model asks for a step-up when the
// session needs one, then starts it again.
func (s importScreen) start(id string) tea.Cmd {
	return do(op{name: fmt.Sprintf("import %d users from %s", len(s.rows), filepath.Base(strings.TrimSpace(s.path.Value()))), label: "Starting the import…",
		run: func(ctx context.Context, a api) result {
			return importStartedMsg{outcome{a.s.ExecuteBulk(ctx, id, client.BulkOnFailureContinue)}}
		}})
}

func (s importScreen) move(resume bool) tea.Cmd {
	id := s.bulk.ID
	if resume {
		return do(op{name: "resume the import", label: "Resuming the import…",
			run: func(ctx context.Context, a api) result {
				return importMovedMsg{outcome: outcome{a.s.ResumeBulk(ctx, id)}, action: "Import resumed."}
			}})
	}
	return do(op{name: "pause the import", label: "Pausing the import…",
		run: func(ctx context.Context, a api) result {
			return importMovedMsg{outcome: outcome{a.s.PauseBulk(ctx, id)}, action: "Import paused: p resumes it."}
		}})
}

// read reads the bulk and the first page of its failed rows.
func (s importScreen) read() tea.Cmd {
	id := s.bulk.ID
	return do(op{name: "read the import", label: "", quiet: true,
		run: func(ctx context.Context, a api) result {
			b, err := a.s.Bulk(ctx, id)
			if err != nil {
				return importStateMsg{outcome: outcome{err}}
			}
			failed, err := a.s.BulkOperations(ctx, id, client.BulkFailed, 0, 100)
			return importStateMsg{outcome: outcome{err}, bulk: b, failed: failed}
		}})
}

// readCSV reads a file of users: a header naming importColumns, then one
// user a line.
func readCSV(path string) csvReadMsg {
	f, err := os.Open(path)
	if err != nil {
		return csvReadMsg{problem: "Could not read the file: " + errors.Unwrap(err).Error() + "."}
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return csvReadMsg{problem: "The file has no header line (name,surname,email,...)."}
	}
	col := map[string]int{}
	for i, h := range header {
		name := ""
		for _, c := range importColumns {
			if strings.EqualFold(strings.TrimSpace(h), c) {
				name = c
			}
		}
		if name == "" {
			return csvReadMsg{problem: fmt.Sprintf("Unknown column %q: the columns are %s.", h, strings.Join(importColumns, ", "))}
		}
		col[name] = i
	}
	for _, c := range importColumns[:3] {
		if _, ok := col[c]; !ok {
			return csvReadMsg{problem: "The header has no " + c + " column."}
		}
	}
	var out csvReadMsg
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			out.errs = append(out.errs, rowError{line: line, text: "not valid CSV"})
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		u := client.UserCreate{Name: get("name"), Surname: get("surname"), Email: get("email"), Tag: get("tag")}
		if cc, n := get("mobileCountryCode"), get("mobileNumber"); cc != "" || n != "" {
			u.Mobile = &client.Mobile{CountryCode: cc, Number: n}
		}
		for r := range strings.SplitSeq(get("roles"), ";") {
			if r = strings.TrimSpace(r); r != "" {
				u.Roles = append(u.Roles, strings.ToUpper(r))
			}
		}
		out.rows = append(out.rows, csvRow{line: line, user: u})
	}
	switch {
	case len(out.rows) == 0 && len(out.errs) == 0:
		out.problem = "The file has no users below its header."
	case len(out.rows) > client.MaxBulkOperations:
		out.problem = fmt.Sprintf("The file has %d users: at most %d go in one import.", len(out.rows), client.MaxBulkOperations)
	}
	return out
}

func (s importScreen) View() string {
	lines := []string{
		s.st.dim.Render(fit("A CSV with a header line: name,surname,email and optionally", s.w)),
		s.st.dim.Render(fit(firstFit(s.w, "mobileCountryCode,mobileNumber,tag,roles (roles separated by ;).",
			"mobileCountryCode,mobileNumber,tag,roles (roles split by ;)."), s.w)),
		"",
		s.st.label.Render("File     ") + s.path.View(),
		"",
	}
	if s.errMsg != "" {
		lines = append(lines, s.st.errLine(s.errMsg))
	}
	if s.bulk != nil {
		lines = append(lines, s.progress()...)
	}
	lines = append(lines, s.rowErrors()...)
	return strings.Join(lines, "\n")
}

// progress is the bulk's state and its progress bar.
func (s importScreen) progress() []string {
	b := s.bulk
	done := b.Count(client.BulkCompleted) + b.Count(client.BulkFailed)
	state := map[string]string{
		client.BulkSubmitted: "Stored, not started", client.BulkRunning: "Importing", client.BulkPaused: "Paused",
		client.BulkCancelled: "Cancelled", client.BulkCompleted: "Done", client.BulkPartiallyCompleted: "Done, with failures",
		client.BulkFailed: "Failed: no user was created",
	}[b.Status]
	if b.PauseReason != "" {
		state += " (your session ended: p resumes it)"
	}
	width := max(10, s.w-24)
	filled := 0
	if b.SubmittedItemsCount > 0 {
		filled = width * done / b.SubmittedItemsCount
	}
	pct := 0
	if b.SubmittedItemsCount > 0 {
		pct = 100 * done / b.SubmittedItemsCount
	}
	bar := s.st.ok.Render(strings.Repeat("█", filled)) + s.st.dim.Render(strings.Repeat("░", width-filled))
	return []string{
		s.st.header.Render(state),
		fmt.Sprintf("%s %3d%%", bar, pct),
		fmt.Sprintf("%d of %d rows · %d created · %d failed", done, b.SubmittedItemsCount,
			b.Count(client.BulkCompleted), b.Count(client.BulkFailed)),
		"",
	}
}

// rowErrors lists the lines the server or the file refused.
func (s importScreen) rowErrors() []string {
	var errs []rowError
	errs = append(errs, s.errs...)
	if s.failed != nil {
		for _, o := range s.failed.Operations {
			text := "failed"
			if e := o.Failure(); e != nil {
				text = describe(e)
			}
			e := rowError{line: o.Sequence + 1, text: text} // a file of one header line and no blank ones
			if i := o.Sequence - 1; i < len(s.rows) {
				e = rowError{line: s.rows[i].line, text: s.rows[i].user.Email + ": " + text}
			}
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	out := []string{s.st.header.Render("Lines not imported")}
	room := max(1, s.h-15)
	for i, e := range errs {
		if i == room && len(errs) > room+1 {
			out = append(out, s.st.dim.Render(fmt.Sprintf("  … and %d more", len(errs)-room)))
			break
		}
		where := "       "
		if e.line > 0 {
			where = fmt.Sprintf("line %-3d", e.line)
		}
		out = append(out, fit("  "+s.st.err.Render(where)+" "+e.text, s.w))
	}
	return out
}
