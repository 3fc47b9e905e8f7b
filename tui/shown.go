package tui

import (
	"strings"

	"github.com/deputyhq/deputy/internal/escape"
	"github.com/deputyhq/deputy/server/client"
)

// Text from the server is shown, never obeyed: the API refuses control
// characters and bidi overrides in new input (core.TextRule), but a name
// stored before the rule, or text that came by another path, may hold an
// escape sequence (a clipboard write, a screen clear), a right-to-left
// override that reverses what the admin reads, or a line break that fakes a
// row. shown escapes them, in Go's syntax, in the answers the screens keep,
// so that every place they are drawn (tables, titles, forms, confirmations,
// notices) gets the escaped text. Ids, tokens and references are the
// server's own and are left alone.

// shown is res with the text the admin will read escaped.
func shown(res result) result {
	switch r := res.(type) {
	case usersPageMsg:
		if r.page != nil {
			page := *r.page
			page.Users = make([]client.User, len(r.page.Users))
			for i, u := range r.page.Users {
				page.Users[i] = shownUser(u)
			}
			r.page = &page
		}
		return r
	case detailMsg:
		r.user = shownUserOf(r.user)
		if r.status != nil && r.status.KYC != nil {
			st, kyc := *r.status, *r.status.KYC
			kyc.Reference = esc(kyc.Reference)
			st.KYC = &kyc
			r.status = &st
		}
		return r
	case savedMsg:
		r.user = shownUserOf(r.user)
		return r
	case whoMsg:
		r.name, r.identity = esc(r.name), esc(r.identity)
		return r
	case eventsMsg:
		if r.page != nil {
			page := *r.page
			page.Events = make([]client.SecurityEvent, len(r.page.Events))
			for i, e := range r.page.Events {
				details := make(map[string]string, len(e.Details))
				for k, v := range e.Details {
					details[esc(k)] = esc(v)
				}
				e.Action, e.Actor, e.RequestRef, e.Details = esc(e.Action), esc(e.Actor), esc(e.RequestRef), details
				page.Events[i] = e
			}
			r.page = &page
		}
		return r
	case outboxMsg:
		msgs := make([]client.Message, len(r.msgs))
		for i, m := range r.msgs {
			m.Channel, m.To, m.Subject, m.Text = esc(m.Channel), esc(m.To), esc(m.Subject), escLines(m.Text)
			msgs[i] = m
		}
		r.msgs = msgs
		return r
	}
	return res
}

// shownUserOf is shownUser of a user the answer may not hold (nil).
func shownUserOf(u *client.User) *client.User {
	if u == nil {
		return nil
	}
	shown := shownUser(*u)
	return &shown
}

// shownUser is u with the text the admin reads escaped.
func shownUser(u client.User) client.User {
	u.Name, u.Surname, u.Email, u.Tag = esc(u.Name), esc(u.Surname), esc(u.Email), esc(u.Tag)
	u.CountryOfResidence, u.Locale, u.Brand = esc(u.CountryOfResidence), esc(u.Locale), esc(u.Brand)
	if u.Mobile != nil {
		m := client.Mobile{CountryCode: esc(u.Mobile.CountryCode), Number: esc(u.Mobile.Number)}
		u.Mobile = &m
	}
	return u
}

// esc is s with what does not print escaped.
func esc(s string) string { return escape.NonPrinting(s) }

// escLines is esc for text of several lines (a message's body): its line
// breaks stay.
func escLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = esc(l)
	}
	return strings.Join(lines, "\n")
}
