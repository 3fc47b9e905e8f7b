package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deputyhq/deputy/core"
)

// maxBodyBytes caps request bodies; larger ones get 413.
const maxBodyBytes = 64 << 10

// readBody reads the capped request body.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body could not be read."}
	}
	if len(body) > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	return body, nil
}

// decodeJSON decodes a JSON object strictly into v: unknown fields, trailing data,
// wrong types and malformed JSON are 400s that name the problem.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: a JSON body is required."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, body, v)
	}
	// Not dec.More: it reports no more values before a stray '}' or ']'.
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: unexpected data after the JSON object."}
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the problem. body and
// v let it name a misfit field by its JSON path (rootUser.mobile.number), which
// encoding/json does not: it names unknown fields without their parents and
// puts the Go names of embedded structs in the paths of type errors.
func jsonError(err error, body []byte, v any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &syn) {
		if field, reason, want := firstMisfit(body, v); field != "" {
			msg := fmt.Sprintf("Bad request: unknown field %q.", field)
			switch reason {
			case "IN":
				msg = fmt.Sprintf("Bad request: field %s must be %s.", field, want)
			case "RANGE":
				msg = fmt.Sprintf("Bad request: field %s is out of range.", field)
			}
			return &core.Error{Class: core.ErrInvalid, Message: msg, Fields: []core.FieldError{{Field: field, Reason: reason}}}
		}
	}
	switch {
	case errors.As(err, &syn):
		return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: malformed JSON at byte %d.", syn.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: the JSON body ends too early."}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body must be a JSON object."}
		}
		return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: field %s must be %s.", field, jsonKind(typ.Type.Kind().String())),
			Fields: []core.FieldError{{Field: field, Reason: "IN"}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: unknown field %q.", field),
			Fields: []core.FieldError{{Field: field, Reason: "NOT_IN"}}}
	default:
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body is not valid JSON."}
	}
}

// firstMisfit walks the JSON body against the Go type of v and returns the
// path of the first field (in key order) that v does not declare (reason
// NOT_IN), whose JSON type does not fit (reason IN, with the wanted kind) or
// whose number is too large for it (reason RANGE).
// It returns "" when it finds none.
func firstMisfit(body []byte, v any) (field, reason, want string) {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return "", "", ""
	}
	return misfit(doc, reflect.TypeOf(v), "")
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func misfit(val any, t reflect.Type, path string) (field, reason, want string) {
	for t.Kind() == reflect.Pointer {
		if t.Implements(jsonUnmarshaler) {
			return "", "", ""
		}
		t = t.Elem()
	}
	if val == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return "", "", ""
	}
	wrong := func() (string, string, string) {
		if path == "" {
			return "", "", "" // the body itself: the decoder's own message says it
		}
		return path, "IN", jsonKind(t.Kind().String())
	}
	switch x := val.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for _, k := range slices.Sorted(maps.Keys(x)) {
				ft, ok := fields[k]
				if !ok {
					for name, f := range fields { // encoding/json matches names case-insensitively
						if strings.EqualFold(name, k) {
							ft, ok = f, true
							break
						}
					}
				}
				if !ok {
					return joinPath(path, k), "NOT_IN", ""
				}
				if f, r, w := misfit(x[k], ft, joinPath(path, k)); f != "" {
					return f, r, w
				}
			}
			return "", "", ""
		case reflect.Map:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if f, r, w := misfit(x[k], t.Elem(), joinPath(path, k)); f != "" {
					return f, r, w
				}
			}
			return "", "", ""
		}
		return wrong()
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return wrong()
		}
		for i, e := range x {
			if f, r, w := misfit(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); f != "" {
				return f, r, w
			}
		}
		return "", "", ""
	case string:
		if t.Kind() != reflect.String {
			return wrong()
		}
	case bool:
		if t.Kind() != reflect.Bool {
			return wrong()
		}
	case float64:
		zero := reflect.Zero(t)
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if x != math.Trunc(x) {
				return wrong()
			}
			if x < math.MinInt64 || x >= math.MaxInt64 || zero.OverflowInt(int64(x)) {
				return path, "RANGE", ""
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if x != math.Trunc(x) {
				return wrong()
			}
			if x < 0 || x >= math.MaxUint64 || zero.OverflowUint(uint64(x)) {
				return path, "RANGE", ""
			}
		default:
			return wrong()
		}
	}
	return "", "", ""
}

// jsonFields maps the JSON names of a struct's fields, embedded structs'
// fields included, to their types, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, sf := range reflect.VisibleFields(t) {
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case tag == "-", !sf.IsExported() && !sf.Anonymous:
			continue
		case sf.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			continue // its fields are promoted: VisibleFields lists them on their own
		case !sf.IsExported():
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := out[name]; !dup || len(sf.Index) == 1 { // the shallower field wins
			out[name] = sf.Type
		}
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int32", "int64", "uint32", "uint64", "float64":
		return "a number"
	case "slice":
		return "an array"
	default:
		return "an object"
	}
}

// fields collects field errors for one request; err returns them as one 400.
type fields struct {
	errs []core.FieldError
}

func (f *fields) add(field, reason string, params ...string) {
	f.errs = append(f.errs, core.FieldError{Field: field, Reason: reason, Params: params})
}

func (f *fields) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &core.Error{Class: core.ErrInvalid, Fields: f.errs}
}

// required checks that a string is present and not blank.
func (f *fields) required(field, v string) bool {
	if strings.TrimSpace(v) == "" {
		f.add(field, "REQUIRED")
		return false
	}
	return true
}

// size checks a string's length in characters when it is present.
func (f *fields) size(field, v string, min, max int) {
	if n := utf8.RuneCountInString(v); v != "" && (n < min || n > max) {
		f.add(field, "SIZE", strconv.Itoa(min), strconv.Itoa(max))
	}
}

// pattern checks a present string against re.
func (f *fields) pattern(field, v string, re *regexp.Regexp) {
	if v != "" && !re.MatchString(v) {
		f.add(field, "REGEX", re.String())
	}
}

// oneOf checks a present string against an enum.
func (f *fields) oneOf(field, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	f.add(field, "IN", allowed...)
}

// email checks a required email address.
func (f *fields) email(field, v string) {
	if !f.required(field, v) {
		return
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || len(v) > 254 || !strings.Contains(v[strings.LastIndexByte(v, '@'):], ".") {
		f.add(field, "REGEX", "email")
	}
}

// Formats shared by Weavr's schemas.
var (
	reTag         = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	reCountryCode = regexp.MustCompile(`^\+[0-9]{1,3}$`)
	reMobile      = regexp.MustCompile(`^[0-9]{1,12}$`)
	reCountry     = regexp.MustCompile(`^[A-Z]{2}$`)
	reLocale      = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	reBrand       = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
	reDigits      = regexp.MustCompile(`^[0-9]+$`)
	reCurrency    = regexp.MustCompile(`^[A-Z]{3}$`)
	rePostCode    = regexp.MustCompile(`^[A-Za-z0-9 -]*$`)
	reNonce       = regexp.MustCompile(`^[0-9]{6}$`)
	reInviteCode  = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)
)

// mobile checks a Weavr Mobile object.
func (f *fields) mobile(prefix string, m *mobileJSON) {
	if m == nil {
		return
	}
	if f.required(prefix+".countryCode", m.CountryCode) {
		f.pattern(prefix+".countryCode", m.CountryCode, reCountryCode)
	}
	if f.required(prefix+".number", m.Number) {
		f.pattern(prefix+".number", m.Number, reMobile)
	}
}

// date checks a Weavr Date object.
func (f *fields) date(prefix string, d *dateJSON) {
	if d == nil {
		return
	}
	if d.Year < 1900 || d.Year > 2100 {
		f.add(prefix+".year", "RANGE", "1900", "2100")
	}
	if d.Month < 1 || d.Month > 12 {
		f.add(prefix+".month", "RANGE", "1", "12")
	}
	if d.Day < 1 || d.Day > 31 {
		f.add(prefix+".day", "RANGE", "1", "31")
	}
}

// password checks a SensitivePassword object's presence and size.
func (f *fields) password(field string, p *passwordJSON) {
	if p == nil || p.Value == "" {
		f.add(field+".value", "REQUIRED")
		return
	}
	if utf8.RuneCountInString(p.Value) > 100 {
		f.add(field+".value", "SIZE", "1", "100")
	}
}

// Shared JSON shapes.
type (
	mobileJSON struct {
		CountryCode string `json:"countryCode"`
		Number      string `json:"number"`
	}
	dateJSON struct {
		Year  int `json:"year"`
		Month int `json:"month"`
		Day   int `json:"day"`
	}
	passwordJSON struct {
		Value string `json:"value"`
	}
	identityIDJSON struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
)

func (m *mobileJSON) core() *core.Mobile {
	if m == nil {
		return nil
	}
	return &core.Mobile{CountryCode: m.CountryCode, Number: m.Number}
}

func mobileOut(m *core.Mobile) *mobileJSON {
	if m == nil {
		return nil
	}
	return &mobileJSON{CountryCode: m.CountryCode, Number: m.Number}
}

func (d *dateJSON) core() *core.Date {
	if d == nil {
		return nil
	}
	return &core.Date{Year: d.Year, Month: d.Month, Day: d.Day}
}

func dateOut(d *core.Date) *dateJSON {
	if d == nil {
		return nil
	}
	return &dateJSON{Year: d.Year, Month: d.Month, Day: d.Day}
}
