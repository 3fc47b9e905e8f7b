package core

import (
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The placeholders of a programme's link templates (ProgrammeSettings.InviteURL
// and ResetURL): an embedder shapes its links as its pages read them, such as
// https://app.example/invite?user_id={userId}&nonce={code}.
const (
	LinkUserID = "{userId}"
	LinkCode   = "{code}"
	LinkEmail  = "{email}"
)

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// checkLinkTemplate validates a programme's link template: empty, or an
// absolute https URL (http too in sandbox) without user info, whose
// placeholders are among allowed and stand after the host.
func (s *Service) checkLinkTemplate(field, tmpl string, allowed ...string) error {
	if tmpl == "" {
		return nil
	}
	for _, p := range placeholder.FindAllString(tmpl, -1) {
		if !slices.Contains(allowed, p) {
			return &Error{Class: ErrInvalid, Message: "Bad request: " + field + " may hold only the placeholders " + strings.Join(allowed, ", ") + ".",
				Fields: []FieldError{{Field: field, Reason: ReasonIn, Params: allowed}}}
		}
	}
	u, err := url.Parse(placeholder.ReplaceAllString(tmpl, "x"))
	_, rest, _ := strings.Cut(tmpl, "://")
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if err != nil || u.Host == "" || u.User != nil || strings.Contains(host, "{") ||
		(u.Scheme != "https" && (u.Scheme != "http" || !s.cfg.Sandbox)) {
		return Invalid(field, ReasonRegex, "https://host/path?name="+allowed[0])
	}
	return nil
}

// fillLink builds a link from a programme's link template: each placeholder
// becomes its value, query-escaped. It is typed as a safe URL for the HTML
// emails, so it reports false unless the link is http or https with a host
// (checkLinkTemplate checked more when the template was set).
func fillLink(tmpl string, values map[string]string) (htmltemplate.URL, bool) {
	link := placeholder.ReplaceAllStringFunc(tmpl, func(p string) string { return url.QueryEscape(values[p]) })
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return htmltemplate.URL(link), true
}
