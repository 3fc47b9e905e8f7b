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
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/fieldrules"
)

// maxBodyBytes caps request bodies; larger ones get 413. ServeHTTP refuses a
// larger Content-Length before anything reads the body, so a client that sent
// "Expect: 100-continue" never gets "100 Continue" for it.
const maxBodyBytes = 64 << 10

// readBody reads the body of a request, capped at limit (its bodyLimit)
// whatever its framing (a chunked body has no Content-Length to refuse it by).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errBodyTooLarge
	case err != nil:
		return nil, &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body could not be read."}
	}
	return body, nil
}

// decodeJSON decodes a JSON object strictly into v: unknown fields, trailing
// data, wrong types, malformed JSON, invalid UTF-8, duplicate names and text
// breaking core.TextRule are 400s that name the problem. The one leniency is
// Weavr's (coerceNumbers): a number where v has a string reads as its text.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: a JSON body is required."}
	}
	read := coerceNumbers(body, v)
	dec := json.NewDecoder(bytes.NewReader(read))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, read, v)
	}
	// Not dec.More: it reports no more values before a stray '}' or ']'.
	if rest := bytes.TrimLeft(read[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: unexpected data after the JSON object."}
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	if err := checkEmpty(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	return checkText(reflect.ValueOf(v), "")
}

// checkEmpty refuses an empty string sent for a field of t tagged
// `empty:"REASON"`: an optional field whose Weavr schema (a pattern, a
// minimum length or an enum) refuses "", which the handlers' checks, seeing a plain
// string, cannot tell from an absent one. The answer names the field with
// REASON.
func checkEmpty(body []byte, t reflect.Type) error {
	if !bytes.Contains(body, []byte(`""`)) {
		return nil // no empty string anywhere: the common case, without decoding the body again
	}
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return nil // the decoder has already said why
	}
	return emptyIn(doc, t, "")
}

func emptyIn(val any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := val.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		for _, sf := range reflect.VisibleFields(t) {
			name, ok := jsonName(sf)
			if !ok {
				continue
			}
			e, ok := lookupFold(x, name)
			if !ok {
				continue
			}
			at := joinPath(path, name)
			if reason := sf.Tag.Get("empty"); reason != "" && e == "" {
				return core.Invalid(at, reason)
			}
			if err := emptyIn(e, sf.Type, at); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range x {
				if err := emptyIn(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// coerceNumbers returns body with every JSON number that lands in a string of
// v replaced by its literal text ({"verificationCode": 123456} reads as
// "123456"), as Weavr's Java mapper (Jackson's scalar coercion) reads it;
// passwords included, since Weavr's mapper coerces those too. Nothing else
// is coerced: a boolean, array or object for a string stays a 400. It returns
// body itself when there is nothing to coerce or body is not valid JSON (the
// decoder then says why); the JSON text checks still run on the original body.
func coerceNumbers(body []byte, v any) []byte {
	if !hasNumber(body) {
		return body // the common case, and nothing to coerce: skip decoding it twice
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return body
	}
	doc, changed := coerce(doc, reflect.TypeOf(v))
	if !changed {
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// hasNumber reports whether body may hold a JSON number: a '-' or digit
// outside every string. A body without one has nothing for coerceNumbers to
// coerce.
func hasNumber(body []byte) bool {
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == '-' || '0' <= c && c <= '9'):
			return true
		}
	}
	return false
}

// coerce is coerceNumbers for one JSON value decoded into a value of type t;
// it reports whether it changed anything.
func coerce(val any, t reflect.Type) (any, bool) {
	for t.Kind() == reflect.Pointer {
		if t.Implements(jsonUnmarshaler) {
			return val, false
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return val, false
	}
	changed := false
	switch x := val.(type) {
	case json.Number:
		if t.Kind() == reflect.String {
			return x.String(), true
		}
	case map[string]any:
		var member func(k string) (reflect.Type, bool)
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			member = func(k string) (reflect.Type, bool) { return lookupFold(fields, k) }
		case reflect.Map:
			member = func(string) (reflect.Type, bool) { return t.Elem(), true }
		default:
			return val, false
		}
		for k, e := range x {
			if ft, ok := member(k); ok {
				var c bool
				x[k], c = coerce(e, ft)
				changed = changed || c
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range x {
				var c bool
				x[i], c = coerce(e, t.Elem())
				changed = changed || c
			}
		}
	}
	return val, changed
}

// lookupFold finds JSON name k in m, matching names case-insensitively when
// there is no exact match, as encoding/json does (checkJSONText lets only
// one name of an object match another in any case).
func lookupFold[V any](m map[string]V, k string) (V, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	for name, v := range m {
		if strings.EqualFold(name, k) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// checkJSONText refuses what encoding/json lets through without a word:
// invalid UTF-8 and lone surrogates (\ud800), which it turns into U+FFFD, and
// names repeated in an object at any depth, exactly or in another case, of
// which it keeps the last (so that two parsers would read two different
// requests; RFC 8259 §4, RFC 7493 §2.3). body holds one JSON value.
func checkJSONText(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	var names []map[string]bool // one per open object; nil for an array
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return textError(err)
		}
		switch tok.Kind() {
		case '{':
			names = append(names, map[string]bool{})
		case '[':
			names = append(names, nil)
		case '}', ']':
			names = names[:len(names)-1]
		case '"':
			if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 { // a name
				key := foldName(tok.String())
				if names[len(names)-1][key] {
					return repeatedName(pointerPath(dec.StackPointer()))
				}
				names[len(names)-1][key] = true
			}
		}
		if len(names) == 0 {
			return nil
		}
	}
}

// repeatedName is the 400 for a name an object holds more than once.
func repeatedName(field string) error {
	return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: field %s appears more than once.", field),
		Fields: []core.FieldError{{Field: field, Reason: core.ReasonAtMost, Params: []string{"1"}}}}
}

// textError explains why the JSON text of a body encoding/json accepted is
// refused: a name repeated exactly, invalid UTF-8 or an escaped lone surrogate.
func textError(err error) error {
	var syn *jsontext.SyntacticError
	field := ""
	if errors.As(err, &syn) {
		field = pointerPath(syn.JSONPointer)
	}
	if errors.Is(err, jsontext.ErrDuplicateName) {
		return repeatedName(field)
	}
	if field == "" {
		return &core.Error{Class: core.ErrInvalid, Message: "Bad request: the body is not valid UTF-8."}
	}
	return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: field %s is not valid UTF-8.", field),
		Fields: []core.FieldError{{Field: field, Reason: core.ReasonRegex, Params: []string{"UTF-8"}}}}
}

// foldName maps the names strings.EqualFold deems equal, which encoding/json
// matches to one field, to one key: each rune becomes the least of its case
// folding orbit.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// pointerPath writes a JSON pointer (/rootUser/name, /a/0) as the paths 400s
// name fields by (rootUser.name, a[0]). A token of digits only is taken for an
// array index: no field of the API has such a name.
func pointerPath(p jsontext.Pointer) string {
	path := ""
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil {
			path += "[" + tok + "]"
			continue
		}
		path = joinPath(path, tok)
	}
	return path
}

// passwordType holds secrets, not text: a password may contain any character.
var passwordType = reflect.TypeFor[passwordJSON]()

// checkText applies core.TextRule to every string decoded into v, naming the
// first that breaks it by its JSON path (passwords excepted).
func checkText(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkText(v.Elem(), path)
	case reflect.String:
		return core.CheckText(path, v.String())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes (json.RawMessage) are not text
		}
		for i := range v.Len() {
			if err := checkText(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := checkText(v.MapIndex(k), joinPath(path, k.String())); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type() == passwordType {
			return nil
		}
		return checkStructText(v, path)
	}
	return nil
}

// checkStructText is checkText for a struct's fields, by their JSON names;
// embedded structs' fields are the struct's own, as encoding/json sees them.
func checkStructText(v reflect.Value, path string) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		p := path
		switch {
		case name == "-", !sf.IsExported() && !sf.Anonymous:
			continue
		case sf.Anonymous && name == "":
		case name == "":
			p = joinPath(path, sf.Name)
		default:
			p = joinPath(path, name)
		}
		if err := checkText(v.Field(i), p); err != nil {
			return err
		}
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
			case core.ReasonIn:
				msg = fmt.Sprintf("Bad request: field %s must be %s.", field, want)
			case core.ReasonRange:
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
			Fields: []core.FieldError{{Field: field, Reason: core.ReasonIn}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &core.Error{Class: core.ErrInvalid, Message: fmt.Sprintf("Bad request: unknown field %q.", field),
			Fields: []core.FieldError{{Field: field, Reason: core.ReasonNotIn}}}
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
	// Numbers keep their spelling: a whole number written 1e3 or 1990.0
	// does not fit an int, and the decoder's own error would name the
	// field by the Go structs it is embedded in.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
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
		return path, core.ReasonIn, jsonKind(t.Kind().String())
	}
	switch x := val.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for _, k := range slices.Sorted(maps.Keys(x)) {
				ft, ok := lookupFold(fields, k)
				if !ok {
					return joinPath(path, k), core.ReasonNotIn, ""
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
	case json.Number:
		if isInt(t.Kind()) && strings.ContainsAny(string(x), ".eE") {
			return wrong()
		}
		f, err := x.Float64()
		if err != nil {
			return path, core.ReasonRange, ""
		}
		return misfit(f, t, path)
	case float64:
		zero := reflect.Zero(t)
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if x != math.Trunc(x) {
				return wrong()
			}
			if x < math.MinInt64 || x >= math.MaxInt64 || zero.OverflowInt(int64(x)) {
				return path, core.ReasonRange, ""
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if x != math.Trunc(x) {
				return wrong()
			}
			if x < 0 || x >= math.MaxUint64 || zero.OverflowUint(uint64(x)) {
				return path, core.ReasonRange, ""
			}
		default:
			return wrong()
		}
	}
	return "", "", ""
}

// isInt reports whether k is a signed or unsigned integer kind.
func isInt(k reflect.Kind) bool {
	return reflect.Int <= k && k <= reflect.Uintptr
}

// jsonFields maps the JSON names of a struct's fields, embedded structs'
// fields included, to their types, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, sf := range reflect.VisibleFields(t) {
		name, ok := jsonName(sf)
		if !ok {
			continue
		}
		if _, dup := out[name]; !dup || len(sf.Index) == 1 { // the shallower field wins
			out[name] = sf.Type
		}
	}
	return out
}

// jsonName is the name encoding/json gives a field of reflect.VisibleFields,
// or false when it decodes none into it (unexported, "-", or an embedded
// struct whose fields are promoted and listed on their own).
func jsonName(sf reflect.StructField) (string, bool) {
	tag := sf.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	ft := sf.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	switch {
	case tag == "-", !sf.IsExported() && !sf.Anonymous:
		return "", false
	case sf.Anonymous && name == "" && ft.Kind() == reflect.Struct:
		return "", false
	case !sf.IsExported():
		return "", false
	}
	if name == "" {
		name = sf.Name
	}
	return name, true
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
		f.add(field, core.ReasonRequired)
		return false
	}
	return true
}

// size checks a string's length in characters when it is present.
func (f *fields) size(field, v string, min, max int) {
	if n := utf8.RuneCountInString(v); v != "" && (n < min || n > max) {
		f.add(field, core.ReasonSize, strconv.Itoa(min), strconv.Itoa(max))
	}
}

// tag checks a present tag (Weavr's Tag schema): its length and pattern.
func (f *fields) tag(field, v string) {
	f.size(field, v, 1, fieldrules.MaxNameLength)
	f.pattern(field, v, reTag)
}

// pattern checks a present string against re.
func (f *fields) pattern(field, v string, re *regexp.Regexp) {
	if v != "" && !re.MatchString(v) {
		f.add(field, core.ReasonRegex, re.String())
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
	f.add(field, core.ReasonIn, allowed...)
}

// check adds the field errors of a core ErrInvalid (core's input rules).
func (f *fields) check(err error) {
	var ce *core.Error
	if errors.As(err, &ce) {
		f.errs = append(f.errs, ce.Fields...)
	}
}

// email checks a required email address (core.CanonicalEmail).
func (f *fields) email(field, v string) {
	if f.required(field, v) {
		_, err := core.CanonicalEmail(field, v)
		f.check(err)
	}
}

// Formats shared by Weavr's schemas.
var (
	reTag         = regexp.MustCompile(fieldrules.TagPattern)
	reCountryCode = regexp.MustCompile(fieldrules.CountryCodePattern)
	reMobile      = regexp.MustCompile(fieldrules.MobileNumberPattern)
	reCountry     = regexp.MustCompile(`^[A-Z]{2}$`)
	reLocale      = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	reBrand       = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
	reDigits      = regexp.MustCompile(`^[0-9]+$`)
	reCurrency    = regexp.MustCompile(`^[A-Z]{3}$`)
	rePostCode    = regexp.MustCompile(`^[A-Za-z0-9 -]*$`)
	reNonce       = regexp.MustCompile(`^[0-9]{6}$`)
	reInviteCode  = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)
	// rePersonName is a root user's new name in corporateUpdate and
	// consumerUpdate: no digits and none of these symbols.
	rePersonName = regexp.MustCompile(`^[^0-9~!@#$%^*()_+={}\|:;,<>/?]*$`)
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

// date checks a Weavr Date object is a calendar date (core.Date.Check).
func (f *fields) date(prefix string, d *dateJSON) {
	if d != nil {
		f.check(d.core().Check(prefix))
	}
}

// password checks a SensitivePassword object's presence and size.
func (f *fields) password(field string, p *passwordJSON) {
	if p == nil || p.Value == "" {
		f.add(field+".value", core.ReasonRequired)
		return
	}
	if utf8.RuneCountInString(p.Value) > 100 {
		f.add(field+".value", core.ReasonSize, "1", "100")
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

// core is the identity named, or the zero IdentityRef when none is.
func (id *identityIDJSON) core() core.IdentityRef {
	if id == nil {
		return core.IdentityRef{}
	}
	return core.IdentityRef{Type: core.IdentityType(id.Type), ID: id.ID}
}

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
