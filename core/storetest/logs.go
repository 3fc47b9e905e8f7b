package storetest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

func auditEvent(programmeID string, n int) *core.AuditEvent {
	return &core.AuditEvent{
		ProgrammeID: programmeID,
		Actor:       "101",
		Action:      fmt.Sprintf("action-%d", n),
		Subject:     "102",
		RequestRef:  fmt.Sprintf("ref-%d", n),
		At:          t0.Add(time.Duration(n) * time.Second),
		Details:     map[string]string{"n": fmt.Sprint(n)},
	}
}

func testAuditOrderAndPaging(t *testing.T, s core.Store) {
	// Five events of p1 and two of p2, interleaved, over several Updates.
	var p1, p2 []*core.AuditEvent
	for n := range 7 {
		e := auditEvent("p1", n)
		if n%3 == 2 {
			e = auditEvent("p2", n)
		}
		mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendAudit(e) })
		if e.ProgrammeID == "p1" {
			p1 = append(p1, e)
		} else {
			p2 = append(p2, e)
		}
	}
	requireComplete(t, p1[0])
	for _, es := range [][]*core.AuditEvent{p1, p2} {
		for i := 1; i < len(es); i++ {
			require.Greater(t, es[i].Seq, es[i-1].Seq, "Seq assigned by AppendAudit")
		}
	}

	events := func(programmeID string, after uint64, limit int) []*core.AuditEvent {
		t.Helper()
		es, err := read(t, s, func(tx core.ReadTx) ([]*core.AuditEvent, error) {
			return tx.AuditEvents(programmeID, after, limit)
		})
		require.NoError(t, err)
		return es
	}
	assert.Equal(t, p1, events("p1", 0, 100), "all events of p1, oldest first")
	assert.Equal(t, p2, events("p2", 0, 100), "all events of p2, oldest first")
	assert.Empty(t, events("p3", 0, 100), "a programme without events")
	assert.Empty(t, events("p1", 0, 0), "limit 0")

	var paged []*core.AuditEvent
	var after uint64
	for {
		page := events("p1", after, 2)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2, "page size")
		require.Greater(t, page[0].Seq, after, "first event of the page after %d", after)
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	assert.Equal(t, p1, paged, "events of p1 read two at a time")
	assert.Equal(t, p1[2:], events("p1", p1[1].Seq, 100), "events after the second")
}

func message(programmeID string, n int) *core.Message {
	return &core.Message{
		ProgrammeID: programmeID,
		Recipient:   core.Recipient{UserID: strconv.Itoa(100 + n)},
		Channel:     "SMS",
		To:          fmt.Sprintf("+3567912345%d", n),
		Text:        fmt.Sprintf("Your code is %06d", n),
		At:          t0.Add(time.Duration(n) * time.Second),
	}
}

func testOutboxNewestFirst(t *testing.T, s core.Store) {
	m1, m2, m3, other := message("p1", 1), message("p1", 2), message("p1", 3), message("p2", 4)
	m2.Channel, m2.To, m2.Subject = "EMAIL", "ada@acme.test", "Your invite"
	m2.Roles = []core.Role{core.RoleAdmin, core.RoleCardAssignee} // kept as sent
	m3.UserID = m1.UserID                                         // another message for m1's user
	other.UserID = m1.UserID
	legacy := message("p1", 5) // stored before messages named their user
	legacy.UserID = ""
	mustUpdate(t, s, func(tx core.Tx) error {
		for _, m := range []*core.Message{m1, m2, other} {
			if err := tx.AppendOutbox(m); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendOutbox(m3) })
	mustUpdate(t, s, func(tx core.Tx) error { return tx.AppendOutbox(legacy) })
	requireComplete(t, m2)
	assert.Greater(t, m2.Seq, m1.Seq, "Seq assigned by AppendOutbox")
	assert.Greater(t, m3.Seq, m2.Seq, "Seq assigned by AppendOutbox")

	for _, c := range []struct {
		programmeID string
		users       []string
		before      uint64
		limit       int
		want        []*core.Message
	}{
		{"p1", nil, 0, 10, []*core.Message{legacy, m3, m2, m1}},
		{"p1", nil, 0, 2, []*core.Message{legacy, m3}},
		{"p1", nil, 0, 0, nil},
		{"p1", []string{m2.UserID}, 0, 10, []*core.Message{m2}},
		{"p1", []string{m1.UserID}, 0, 10, []*core.Message{m3, m1}},
		{"p1", []string{"999", m1.UserID}, 0, 1, []*core.Message{m3}},
		{"p1", []string{m1.UserID, m2.UserID}, 0, 10, []*core.Message{m3, m2, m1}},
		{"p1", []string{"999"}, 0, 10, nil},
		{"p1", []string{}, 0, 10, nil},
		{"p1", nil, legacy.Seq, 10, []*core.Message{m3, m2, m1}},
		{"p1", nil, m3.Seq, 1, []*core.Message{m2}},
		{"p1", []string{m1.UserID}, m3.Seq, 10, []*core.Message{m1}},
		{"p1", nil, m1.Seq, 10, nil},
		{"p1", nil, legacy.Seq + 100, 10, []*core.Message{legacy, m3, m2, m1}},
		{"p2", nil, 0, 10, []*core.Message{other}},
		{"p2", []string{m1.UserID}, 0, 10, []*core.Message{other}},
		{"p2", []string{m2.UserID}, 0, 10, nil},
		{"p3", nil, 0, 10, nil},
	} {
		got, err := read(t, s, func(tx core.ReadTx) ([]*core.Message, error) {
			return tx.Outbox(c.programmeID, c.users, c.before, c.limit)
		})
		require.NoError(t, err)
		if len(c.want) == 0 {
			assert.Empty(t, got, "outbox of %s for %v before %d, limit %d", c.programmeID, c.users, c.before, c.limit)
			continue
		}
		assert.Equal(t, c.want, got, "outbox of %s for %v before %d, limit %d", c.programmeID, c.users, c.before, c.limit)
	}
}
