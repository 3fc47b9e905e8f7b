package tui

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/server/client"
)

// TestImportCSV imports a file against a real server: a bad line is
// refused by row before anything is stored; once fixed, the import asks for
// the step-up, runs (pausing and resuming it on the way) and lists the row
// whose single call failed.
func TestImportCSV(t *testing.T) {
	d, dep := signedInDriver(t, 100, 30)
	dep.createUsers(t, 1) // user01@acme.test
	path := filepath.Join(t.TempDir(), "users.csv")
	write := func(text string) { require.NoError(t, os.WriteFile(path, []byte(text), 0o600)) }

	write("name,surname,email,roles\nCy,Clerk,cy@acme.test,card_assignee\nDi,Dean,not-an-email,\n")
	d.keys("b")
	d.requireScreen("Import users from CSV", "name,surname,email")
	d.typeText(path)
	d.keys("enter")
	d.requireScreen("Nothing was imported: fix these lines", "Lines not imported", "line 3", "email: not a valid email address")
	page, err := dep.admin.BulkOperations(context.Background(), "1", "", 0, 0)
	assert.Nil(t, page)
	assert.ErrorIs(t, err, client.ErrNotFound, "nothing was stored")

	write("name,surname,email,roles,tag\nCy,Clerk,cy@acme.test,card_assignee,csv\nDi,Dean,di@acme.test,CARD_ASSIGNEE;FUNDS_MANAGEMENT_ROLE,csv\nU,One,user01@acme.test,,csv\n")
	d.keys("enter")
	d.requireScreen("Confirm it's you", "Import 3 users from users.csv needs a second factor.")
	d.keys("enter")
	d.typeText(sandboxCode)
	d.keys("enter")
	d.requireNotScreen("Confirm it's you")
	d.requireScreen("Importing", "0 of 3 rows · 0 created · 0 failed", "  0%")

	d.keys("p")
	d.requireScreen("Paused", "Import paused: p resumes it.")
	require.NoError(t, dep.inst.Service.ProcessBulks(context.Background()))
	assert.Equal(t, 1, dep.count(t, client.UserFilter{}), "a paused import creates nobody")
	d.keys("p")
	d.requireScreen("Importing", "Import resumed.")
	require.NoError(t, dep.inst.Service.ProcessBulks(context.Background()))
	d.fire(importPoll)
	d.requireScreen("Done, with failures", "3 of 3 rows · 2 created · 1 failed", "100%",
		"line 4", "user01@acme.test: a user with this email already exists")
	assert.Equal(t, 2, dep.count(t, client.UserFilter{Tag: "csv"}), "each row once")

	d.keys("esc")
	d.requireScreen("Users", "Cy Clerk", "Di Dean")
}

// A file the import cannot read is refused whole, before any call.
func TestImportCSVBadFiles(t *testing.T) {
	d, _ := signedInDriver(t, 100, 30)
	dir := t.TempDir()
	d.keys("b")
	for _, c := range []struct{ text, want string }{
		{"", "The file has no header line"},
		{"name,surname\n", "The header has no email column."},
		{"name,surname,email,age\n", `Unknown column "age"`},
		{"name,surname,email\n", "The file has no users below its header."},
	} {
		path := filepath.Join(dir, "f.csv")
		require.NoError(t, os.WriteFile(path, []byte(c.text), 0o600))
		d.keys("ctrl+u")
		d.typeText(path)
		d.keys("enter")
		d.requireScreen(c.want)
	}
	d.keys("ctrl+u")
	d.typeText(filepath.Join(dir, "missing.csv"))
	d.keys("enter")
	d.requireScreen("Could not read the file: no such file or directory.")
}

func TestGoldenImport(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	t.Chdir(t.TempDir()) // the screen shows the path typed: a short one
	require.NoError(t, os.WriteFile("users.csv", []byte("name,surname,email,roles\n"+
		"Cy,Clerk,cy@acme.test,CARD_ASSIGNEE\nDi,Dean,di@acme.test,\nGrace,Hopper,grace@acme.test,\nEd,Eve,ed@acme.test,\n"), 0o600))
	d := signedIn(t, 80, 24)
	d.keys("b")
	d.typeText("users.csv")
	d.keys("enter")
	t.Chdir(wd) // back to testdata
	d.answer("import 4 users", importSubmittedMsg{bulk: &client.Bulk{ID: "900", Status: client.BulkSubmitted, SubmittedItemsCount: 4}})
	d.answer("import 4 users from users.csv", importStartedMsg{})
	d.answer("read the import", importStateMsg{
		bulk: &client.Bulk{ID: "900", Status: client.BulkRunning, SubmittedItemsCount: 4, OperationStatusCounts: []client.BulkStatusCount{
			{Status: client.BulkCompleted, Count: 2}, {Status: client.BulkFailed, Count: 1}, {Status: client.BulkRunning, Count: 1}}},
		failed: &client.BulkOperationPage{Count: 1, Operations: []client.BulkOperation{
			{Sequence: 3, Status: client.BulkFailed, ResponsePayload: `{"errorCode":"EMAIL_NOT_UNIQUE"}`}}},
	})
	requireGolden(t, "import_80x24", d.screen())
}

// TestImportEnterTwiceSendsOnce: enter pressed twice before the file is read
// (a key repeat) reads it twice, but the file is sent once: a second bulk of
// the same users would be created and run as well.
func TestImportEnterTwiceSendsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.csv")
	require.NoError(t, os.WriteFile(path, []byte("name,surname,email\nCy,Clerk,cy@acme.test\n"), 0o600))
	d := signedIn(t, 80, 24)
	d.keys("b")
	d.typeText(path)
	var reads []tea.Cmd
	for range 2 {
		next, cmd := d.m.Update(keyPress("enter"))
		d.m = next.(model)
		reads = append(reads, cmd)
	}
	for _, cmd := range reads {
		d.run(cmd)
	}
	assert.Equal(t, []string{"import 1 users"}, d.pendingNames(), "the file is sent once")
}
