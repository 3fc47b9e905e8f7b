package server_test

// The fullest requests Weavr's own description allows (read from it at test
// time with internal/weavrspec), sent to every Weavr operation Deputy
// serves: a Weavr client may set any optional field, header or query
// parameter the description declares, and Deputy must not refuse it as
// invalid.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/weavrspec"
	"github.com/deputyhq/deputy/server/internal/apispec"
)

// weavrSamples are values for the patterns of Weavr's string schemas; a
// pattern missing here fails the test, so that a new one gets a sample.
var weavrSamples = map[string]string{
	`^[0-9]+$`:                          "1",
	`^[0-9]{1,}$`:                       "1",
	`^[A-Z]+$`:                          "GB",
	`^[A-Z]*$`:                          "GBP",
	`^\+[0-9]+$`:                        "+44",
	`^[0-9]{1,12}$`:                     "7700900123",
	`^[0-9]{6}$`:                        sandboxCode,
	`^[a-zA-Z0-9_-]+$`:                  "weavr_tag-1",
	`^[a-z]{2}(-[A-Z]{2})?$`:            "en-GB",
	`^[a-zA-Z0-9]+$`:                    "Brand1",
	`^[A-Za-z0-9 -]*$`:                  "SW1A 1AA",
	`^[^0-9~!@#$%^*()_+={}\|:;,<>/?]*$`: "Ada",
}

// edge says where in their ranges a sample's numbers and lengths lie.
type edge int

const (
	middle edge = iota // numbers in the middle, strings a sample
	low                // the least numbers and shortest strings allowed
	high               // the greatest numbers, longest strings and fullest enum lists
)

// weavrSample builds a value of schema s with every optional property set:
// enums take their variant'th value (cycling), numbers and lengths lie at
// edge, strings follow their pattern or format. n makes emails unique.
type weavrSample struct {
	t       *testing.T
	variant int
	edge    edge
	n       *int
}

func (g weavrSample) value(s *openapi3.SchemaRef, path string) any {
	g.t.Helper()
	v := s.Value
	switch {
	case len(v.Enum) > 0:
		return v.Enum[g.variant%len(v.Enum)]
	case v.Type.Is("object"):
		out := map[string]any{}
		for name, p := range v.Properties {
			out[name] = g.value(p, path+"."+name)
		}
		return out
	case v.Type.Is("array"):
		if g.edge == high && len(v.Items.Value.Enum) > 0 {
			return v.Items.Value.Enum
		}
		return []any{g.value(v.Items, path+"[0]")}
	case v.Type.Is("boolean"):
		return true
	case v.Type.Is("integer"), v.Type.Is("number"):
		switch {
		case g.edge == low && v.Min != nil:
			return int64(*v.Min)
		case g.edge == low:
			return int64(0)
		case g.edge == high && v.Max != nil:
			return int64(*v.Max)
		case g.edge == high && v.Format == "int32":
			return int64(math.MaxInt32)
		case g.edge == high:
			return int64(math.MaxInt64)
		case v.Min != nil && v.Max != nil:
			return int64((*v.Min + *v.Max) / 2)
		case v.Min != nil:
			return int64(*v.Min) + 1
		case v.Max != nil:
			return int64(*v.Max)
		}
		return int64(1)
	case v.Type.Is("string"):
		return g.text(v, path)
	}
	g.t.Fatalf("%s: no sample for schema type %v", path, v.Type)
	return nil
}

func (g weavrSample) text(v *openapi3.Schema, path string) string {
	g.t.Helper()
	switch {
	case v.Format == "email":
		*g.n++
		return fmt.Sprintf("weavr%d@acme.test", *g.n)
	case v.Format == "password":
		return testPassword
	case v.Pattern != "":
		s, ok := weavrSamples[v.Pattern]
		require.True(g.t, ok, "%s: add a sample for Weavr's pattern %s", path, v.Pattern)
		if long := strings.Repeat(s[:1], int(lengthOf(v.MaxLength))); g.edge == high && v.VisitJSON(long) == nil {
			return long // the pattern allows the sample's first character repeated
		}
		return s
	case strings.HasSuffix(path, "ipAddress"):
		return "203.0.113.7"
	}
	switch {
	case g.edge == low:
		return strings.Repeat("W", max(1, int(v.MinLength)))
	case g.edge == high && v.MaxLength != nil:
		return strings.Repeat("W", int(*v.MaxLength))
	}
	s := "Weavr"
	if v.MaxLength != nil && uint64(len(s)) > *v.MaxLength {
		s = s[:*v.MaxLength]
	}
	for uint64(len(s)) < v.MinLength {
		s += "x"
	}
	return s
}

// lengthOf is *p, or 0 for nil.
func lengthOf(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// enumVariants is how many values the longest enum in s has (1 for none).
func enumVariants(s *openapi3.SchemaRef) int {
	if s == nil || s.Value == nil {
		return 1
	}
	n := max(1, len(s.Value.Enum))
	if s.Value.Items != nil {
		n = max(n, enumVariants(s.Value.Items))
	}
	for _, p := range s.Value.Properties {
		n = max(n, enumVariants(p))
	}
	return n
}

// weavrOp is one operation of Weavr's description that Deputy serves.
type weavrOp struct {
	id, method, path string
	op               *openapi3.Operation
	params           openapi3.Parameters
	security         *openapi3.SecurityRequirements // Deputy's, which decides the credentials sent
}

// weavrServed lists the operations of Weavr's description that Deputy's own
// description serves as Weavr's (not tagged Deputy extensions).
func weavrServed(t *testing.T) []weavrOp {
	t.Helper()
	weavr := weavrspec.Load(t, weavrspec.Multi)
	ours, err := apispec.Load()
	require.NoError(t, err)
	served := map[string]*openapi3.SecurityRequirements{} // Deputy's security, by operation
	for _, item := range ours.Doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !slices.Contains(op.Tags, "Deputy extensions") {
				served[op.OperationID] = op.Security
			}
		}
	}
	var out []weavrOp
	for path, item := range weavr.Paths.Map() {
		for method, op := range item.Operations() {
			if security, ok := served[op.OperationID]; ok {
				out = append(out, weavrOp{op.OperationID, method, path, op, slices.Concat(item.Parameters, op.Parameters), security})
			}
		}
	}
	require.NotEmpty(t, out)
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// weavrFixture is what one operation's requests act on: a corporate whose
// root user has a stepped-up session, and another user of it.
type weavrFixture struct {
	e            *env
	root         member
	target       string
	bulk, sca    string
	resourceType string // of the confirmation challenges' body, when it has one
	resource     string // a resource of that type to confirm
	n            int
	variant      int
	edge         edge
}

// weavrRoot is a root user with a stepped-up session: of a consumer for
// Weavr's /consumers paths, which act on the caller's consumer, else of a
// corporate.
func (e *env) weavrRoot(path, email string) member {
	e.t.Helper()
	if path != "/consumers" {
		return e.adminRoot(email)
	}
	r := e.key("POST", "/multi/consumers", consumerBody(email))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	id := str(e.t, r.json(e.t), "id", "id")
	r = e.key("POST", "/multi/passwords/"+id+"/create", map[string]any{"password": pw(testPassword)})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	token := str(e.t, r.json(e.t), "token")
	e.stepUp(token)
	return member{id: id, email: email, token: token}
}

// weavrPathValues are the path parameters the fixture fills in with things
// that exist; the rest come from their schema.
func (f *weavrFixture) pathValue(name string) (string, bool) {
	switch name {
	case "user_id":
		return f.target, true
	case "bulk_id":
		if f.bulk == "" {
			f.bulk = f.e.submitBulk(f.root.token, bulkRows(fmt.Sprintf("bulk%d-", f.variant), 1))
		}
		return f.bulk, true
	case "scaChallengeId":
		if f.sca == "" {
			r := f.e.auth(f.root.token, "POST", confirmSMSPath, confirmBody(f.resourceType, f.resource))
			require.Equal(f.e.t, http.StatusOK, r.status, "%s", r.body)
			f.sca = str(f.e.t, r.json(f.e.t), "scaChallengeId")
		}
		return f.sca, true
	}
	return "", false
}

// weavrRequest builds the fullest request of op for variant: every path,
// query and header parameter Weavr declares and every body property.
func (f *weavrFixture) request(o weavrOp) (path string, body any, headers []string) {
	t := f.e.t
	t.Helper()
	g := weavrSample{t: t, variant: f.variant, edge: f.edge, n: &f.n}
	path = o.path
	var schema *openapi3.SchemaRef
	if rb := o.op.RequestBody; rb != nil {
		schema = rb.Value.Content.Get("application/json").Schema
	}
	if schema != nil && schema.Value.Properties["resourceType"] != nil {
		// Deputy confirms only the resources the embedder registered.
		f.resourceType = g.value(schema.Value.Properties["resourceType"], "body.resourceType").(string)
		f.resource = fmt.Sprintf("7%d", f.variant)
		r := f.e.key("POST", resourcePath(f.resourceType, f.resource), resourceBody(f.root.id, 1250, "Alice Example"))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	q := url.Values{}
	for _, pr := range o.params {
		p := pr.Value
		var val any
		if s, ok := f.pathValue(p.Name); ok && p.In == "path" {
			val = s
		} else {
			val = g.value(p.Schema, p.In+":"+p.Name)
		}
		require.NoError(t, p.Schema.Value.VisitJSON(asJSON(t, val)), "%s %s: the sample is not Weavr-valid", o.id, p.Name)
		switch p.In {
		case "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(fmt.Sprint(val)))
		case "query":
			if list, ok := val.([]any); ok {
				for _, v := range list {
					q.Add(p.Name, fmt.Sprint(v))
				}
			} else {
				q.Set(p.Name, fmt.Sprint(val))
			}
		case "header":
			f.n++
			headers = append(headers, p.Name, fmt.Sprintf("weavr-ref-%d", f.n))
		}
	}
	path = "/multi" + path
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if schema != nil {
		body = g.value(schema, "body")
		if _, ok := schema.Value.Properties["resourceIds"]; ok {
			body.(map[string]any)["resourceIds"] = []any{f.resource}
		}
		require.NoError(t, schema.Value.VisitJSON(asJSON(t, body)), "%s: the sample body is not Weavr-valid", o.id)
	}
	return path, body, headers
}

// needsToken reports whether Deputy's description of an operation asks for
// a user's token (auth_token) in every alternative: Weavr's asks for none on
// userKyc, whose user only the token names.
func needsToken(security *openapi3.SecurityRequirements) bool {
	if security == nil || len(*security) == 0 {
		return false
	}
	for _, req := range *security {
		if _, ok := req["auth_token"]; !ok {
			return false
		}
	}
	return true
}

// newWeavrFixture is a fixture for o's requests on a server of its own.
func newWeavrFixture(t *testing.T, o weavrOp) *weavrFixture {
	f := &weavrFixture{e: newEnv(t)}
	f.setUp(o, "")
	return f
}

// setUp gives the fixture its root user (signed in as o's path needs) and
// a target user, their emails tagged with tag.
func (f *weavrFixture) setUp(o weavrOp, tag string) {
	f.root = f.e.weavrRoot(o.path, "root"+tag+"@acme.test")
	f.target = f.e.createUser(f.root.token, userBody("target"+tag+"@acme.test", core.RoleCardAssignee))
}

// send makes o's request to path with the credentials Deputy's description
// asks: the root's token and the api key, or the api key alone.
func (f *weavrFixture) send(o weavrOp, path string, body any, headers ...string) resp {
	if needsToken(o.security) {
		return f.e.auth(f.root.token, o.method, path, body, headers...)
	}
	return f.e.key(o.method, path, body, headers...)
}

// namesField reports whether a 400 names field among its invalid fields, or
// with members, a member of it (a missing password is password.value).
func namesField(t *testing.T, r resp, field string, members bool) bool {
	for _, fe := range r.invalidFields(t) {
		name, _, _ := strings.Cut(fe, ":")
		if name == field || members && strings.HasPrefix(name, field+".") {
			return true
		}
	}
	return false
}

func TestWeavrFullestRequestsAreAccepted(t *testing.T) {
	for _, o := range weavrServed(t) {
		t.Run(o.id, func(t *testing.T) {
			e := newEnv(t)
			variants := 1
			for _, p := range o.params {
				variants = max(variants, enumVariants(p.Value.Schema))
			}
			if o.op.RequestBody != nil {
				variants = max(variants, enumVariants(o.op.RequestBody.Value.Content.Get("application/json").Schema))
			}
			type sample struct {
				variant int
				edge    edge
			}
			var samples []sample
			for v := range variants {
				samples = append(samples, sample{v, middle})
			}
			samples = append(samples, sample{variants, low}, sample{variants + 1, high})
			for _, c := range samples {
				v := c.variant
				f := &weavrFixture{e: e, variant: v, edge: c.edge, n: 1000 * v}
				f.setUp(o, fmt.Sprint(v))
				path, body, headers := f.request(o)
				r := f.send(o, path, body, headers...)
				t.Logf("variant %d, edge %d: %d", v, c.edge, r.status)
				assert.NotEqual(t, http.StatusBadRequest, r.status, "variant %d, edge %d: %s %s\nbody: %s\nanswer: %s", v, c.edge, o.method, path, jsonText(body), r.body)
				assert.NotEqual(t, http.StatusUnauthorized, r.status, "variant %d: %s", v, r.body)
				assert.NotContains(t, []int{http.StatusMethodNotAllowed, http.StatusNotImplemented}, r.status, "%s", r.body)
			}
		})
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Weavr's offsets have no maximum and bulkIdOperations' sequence is any
// int64: past the end, or a sequence no operation has, is an empty page.
func TestWeavrListQueriesBeyondTheirEnds(t *testing.T) {
	e := newEnv(t)
	root := e.adminRoot("root@acme.test")
	bulk := e.submitBulk(root.token, bulkRows("bulk", 2))

	for _, path := range []string{"/multi/identities", usersPath, "/multi/bulks", "/multi/bulks/" + bulk + "/operations"} {
		for _, offset := range []string{"2147483648", "9223372036854775807"} {
			r := e.auth(root.token, "GET", path+"?offset="+offset, nil)
			require.Equal(t, http.StatusOK, r.status, "%s offset %s: %s", path, offset, r.body)
			assert.Equal(t, float64(0), r.json(t)["responseCount"], "%s offset %s", path, offset)
		}
		r := e.auth(root.token, "GET", path+"?offset=-1", nil)
		assert.Equal(t, []string{"offset:RANGE"}, r.invalidFields(t), "%s: Weavr's minimum stays", path)
	}

	for _, seq := range []string{"0", "-5", "3", "9223372036854775807"} {
		ops := e.bulkOps(root.token, bulk, "?sequence="+seq)
		assert.Zero(t, ops.Count, "sequence %s", seq)
		assert.Empty(t, ops.Operations, "sequence %s", seq)
	}
	assert.Equal(t, 1, e.bulkOps(root.token, bulk, "?sequence=2").Count)
	r := e.auth(root.token, "GET", "/multi/bulks/"+bulk+"/operations?sequence=x", nil)
	assert.Equal(t, []string{"sequence:RANGE"}, r.invalidFields(t))
}

// weavrInvalid lists requests Weavr's description refuses, made from the
// fullest valid body of schema one change at a time: each required property
// left out, and each value broken (format, pattern, length, enum, range).
// Each comes with the field it breaks, as Deputy's 400s name it.
func weavrInvalid(t *testing.T, g weavrSample, schema *openapi3.SchemaRef) (bodies []map[string]any, fields []string) {
	t.Helper()
	var walk func(s *openapi3.SchemaRef, path []string)
	add := func(path []string, change func(parent map[string]any, name string)) {
		body := asJSON(t, g.value(schema, "body")).(map[string]any)
		parent := body
		for _, p := range path[:len(path)-1] {
			parent = parent[p].(map[string]any)
		}
		change(parent, path[len(path)-1])
		if schema.Value.VisitJSON(body) == nil {
			return // not a change Weavr refuses
		}
		bodies, fields = append(bodies, body), append(fields, strings.Join(path, "."))
	}
	walk = func(s *openapi3.SchemaRef, path []string) {
		v := s.Value
		for name, p := range v.Properties {
			at := append(slices.Clone(path), name)
			if slices.Contains(v.Required, name) {
				add(at, func(parent map[string]any, name string) { delete(parent, name) })
			}
			pv := p.Value
			add(at, func(parent map[string]any, name string) { parent[name] = wrongType(pv) })
			switch {
			case pv.Type.Is("object"):
				walk(p, at)
			case len(pv.Enum) > 0:
				add(at, func(parent map[string]any, name string) { parent[name] = "NOT_ONE_OF_THEM" })
			case pv.Type.Is("integer") && (pv.Max != nil || pv.Min != nil):
				if pv.Max != nil {
					add(at, func(parent map[string]any, name string) { parent[name] = *pv.Max + 1 })
				}
				if pv.Min != nil {
					add(at, func(parent map[string]any, name string) { parent[name] = *pv.Min - 1 })
				}
			case pv.Type.Is("array"):
				if pv.MaxItems != nil {
					add(at, func(parent map[string]any, name string) {
						list := parent[name].([]any)
						for len(list) <= int(*pv.MaxItems) {
							list = append(list, list[0])
						}
						parent[name] = list
					})
				}
				if pv.MinItems > 0 {
					add(at, func(parent map[string]any, name string) { parent[name] = []any{} })
				}
				if pv.Items != nil && len(pv.Items.Value.Enum) > 0 {
					add(at, func(parent map[string]any, name string) { parent[name] = []any{"NOT_ONE_OF_THEM"} })
				}
			case pv.Type.Is("string") && pv.Format == "email":
				add(at, func(parent map[string]any, name string) { parent[name] = "not-an-email" })
			case pv.Type.Is("string"):
				add(at, func(parent map[string]any, name string) { parent[name] = "" })
				if pv.Pattern != "" {
					add(at, func(parent map[string]any, name string) { parent[name] = "!" })
				}
				if pv.MinLength > 1 {
					add(at, func(parent map[string]any, name string) { parent[name] = parent[name].(string)[:1] })
				}
				if pv.MaxLength != nil {
					add(at, func(parent map[string]any, name string) {
						parent[name] = strings.Repeat(parent[name].(string)[:1], int(*pv.MaxLength)+1)
					})
				}
			}
		}
	}
	walk(schema, nil)
	return bodies, fields
}

// wrongType is a value of another JSON type than s's: not a number for a
// string, which Deputy reads as its text as Weavr's mapper does (README).
func wrongType(s *openapi3.Schema) any {
	switch {
	case s.Type.Is("string"):
		return true
	case s.Type.Is("array"):
		return "x"
	}
	return []any{"x"}
}

// Requests Weavr's description refuses are 400s naming the field, on every
// operation of Weavr's with a request body that Deputy serves.
func TestWeavrInvalidRequestsAreRefused(t *testing.T) {
	// Refusals Deputy relaxes on purpose, each documented in assets/openapi.yaml.
	relaxed := map[string]string{
		// requestAccessToken: identity may be left out when the credentials
		// reach one identity only.
		"requestAccessToken identity": "identity is optional for one identity",
	}
	for _, o := range weavrServed(t) {
		if o.op.RequestBody == nil {
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			f := newWeavrFixture(t, o)
			path, _, _ := f.request(o) // no idempotency-ref: one would make the next body a mismatch
			schema := o.op.RequestBody.Value.Content.Get("application/json").Schema
			var bodies []any
			var names []string
			if schema.Value.Type.Is("array") {
				// A batch of one row, broken: Deputy names the row's field.
				rows, fields := weavrInvalid(t, weavrSample{t: t, n: &f.n}, schema.Value.Items)
				for i, row := range rows {
					if pp, ok := row["pathParams"].(map[string]any); ok && pp["_user_id_"] != nil && !strings.HasPrefix(fields[i], "pathParams.") {
						pp["_user_id_"] = f.target
					}
					bodies, names = append(bodies, []any{row}), append(names, "[0]."+fields[i])
				}
			} else {
				objects, fields := weavrInvalid(t, weavrSample{t: t, n: &f.n}, schema)
				for _, b := range objects {
					bodies = append(bodies, b)
				}
				names = fields
			}
			if len(bodies) == 0 {
				t.Skip("Weavr's description refuses no body of this operation")
			}
			t.Logf("%d requests Weavr refuses", len(bodies))
			for i, body := range bodies {
				if _, ok := relaxed[o.id+" "+names[i]]; ok {
					continue
				}
				r := f.send(o, path, body)
				if assert.Equal(t, http.StatusBadRequest, r.status, "%s broken: %s\nanswer: %s", names[i], jsonText(body), r.body) {
					assert.True(t, namesField(t, r, names[i], true), "%s broken: %s", names[i], r.body)
				}
			}
		})
	}
}

// Query parameters Weavr's description refuses are 400s naming the
// parameter, on every operation of Weavr's with a query that Deputy serves:
// each parameter broken in turn (a number outside its range or no number,
// no boolean, no email address, a value outside its enum).
func TestWeavrInvalidQueriesAreRefused(t *testing.T) {
	for _, o := range weavrServed(t) {
		var broken []url.Values
		var names []string
		for _, pr := range o.params {
			p := pr.Value
			if p.In != "query" {
				continue
			}
			v := p.Schema.Value
			if v.Type.Is("array") && v.Items != nil {
				v = v.Items.Value
			}
			var bad []string
			switch {
			case len(v.Enum) > 0:
				bad = append(bad, "NOT_ONE_OF_THEM")
			case v.Type.Is("integer"):
				bad = append(bad, "x")
				if v.Min != nil {
					bad = append(bad, fmt.Sprint(*v.Min-1))
				}
				if v.Max != nil {
					bad = append(bad, fmt.Sprint(*v.Max+1))
				}
			case v.Type.Is("boolean"):
				bad = append(bad, "maybe")
			case v.Type.Is("string") && v.Format == "email":
				bad = append(bad, "not-an-email")
			}
			for _, b := range bad {
				broken = append(broken, url.Values{p.Name: {b}})
				names = append(names, p.Name)
			}
		}
		if len(broken) == 0 {
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			f := newWeavrFixture(t, o)
			path, _, _ := f.request(o)
			path, _, _ = strings.Cut(path, "?")
			for i, q := range broken {
				r := f.send(o, path+"?"+q.Encode(), nil)
				if assert.Equal(t, http.StatusBadRequest, r.status, "%s broken: %s\nanswer: %s", names[i], q.Encode(), r.body) {
					assert.True(t, namesField(t, r, names[i], false), "%s broken: %s", names[i], r.body)
				}
			}
		})
	}
}

// Path parameters Weavr's description refuses (an id that is no number, a
// channel outside the enum) are 400s naming the parameter, on every
// operation of Weavr's that Deputy serves.
func TestWeavrInvalidPathParametersAreRefused(t *testing.T) {
	for _, o := range weavrServed(t) {
		var broken []string
		for _, pr := range o.params {
			p := pr.Value
			if p.In != "path" {
				continue
			}
			switch v := p.Schema.Value; {
			case len(v.Enum) > 0, v.Pattern != "":
				broken = append(broken, p.Name)
			}
		}
		if len(broken) == 0 {
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			f := newWeavrFixture(t, o)
			_, body, _ := f.request(o)
			for _, name := range broken {
				path := o.path
				for _, pr := range o.params {
					p := pr.Value
					if p.In != "path" {
						continue
					}
					val, ok := f.pathValue(p.Name)
					if !ok {
						val = fmt.Sprint(weavrSample{t: t, n: &f.n}.value(p.Schema, "path:"+p.Name))
					}
					if p.Name == name {
						val = "NOT_ONE_OF_THEM"
					}
					path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(val))
				}
				r := f.send(o, "/multi"+path, body)
				if assert.Equal(t, http.StatusBadRequest, r.status, "%s broken: %s %s\nanswer: %s", name, o.method, path, r.body) {
					reason := core.ReasonRegex // of an id
					if name == "channel" {
						reason = core.ReasonIn
					}
					assert.Contains(t, r.invalidFields(t), name+":"+reason, "%s", r.body)
				}
			}
		})
	}
}

// replayReady puts a fixture in the state in which an operation's fullest
// request succeeds, for the operations that need more than a stepped-up root
// and another user: an address of a user, a code asked for first, a root
// without a factor yet, an invite sent.
var replayReady = map[string]func(f *weavrFixture, body map[string]any){
	"authorisedUserEmailVerificationCodeSend":    func(f *weavrFixture, body map[string]any) { body["email"] = "target@acme.test" },
	"corporateRootUserEmailVerificationCodeSend": func(f *weavrFixture, body map[string]any) { body["email"] = f.root.email },
	"enrolDeviceUsingOtpStepOne":                 func(f *weavrFixture, _ map[string]any) { f.root = f.e.rootWithoutFactor() },
	"enrolDeviceUsingOtpStepTwo": func(f *weavrFixture, body map[string]any) {
		f.root = f.e.rootWithoutFactor()
		wantNoContent(f.e.t, f.e.auth(f.root.token, "POST", enrolPath, nil), "enrol SMS")
		body["verificationCode"] = sandboxCode
	},
	"stepupSCAVerify": func(f *weavrFixture, body map[string]any) {
		f.root = member{id: f.root.id, email: f.root.email, token: f.e.loginToken(f.root.email)}
		wantNoContent(f.e.t, f.e.auth(f.root.token, "POST", stepUpPath, nil), "step-up challenge")
		body["verificationCode"] = sandboxCode
	},
	"userInviteConsume": func(f *weavrFixture, body map[string]any) {
		f.e.invite(f.root.token, f.target)
		body["inviteCode"] = sandboxCode
	},
}

// rootWithoutFactor is a corporate's root user, signed in, with no factor yet.
func (e *env) rootWithoutFactor() member {
	e.t.Helper()
	id, token := e.corporate("fresh@acme.test")
	return member{id: id, email: "fresh@acme.test", token: token}
}

// Every Weavr operation Deputy serves with an idempotency-ref replays its
// first success to the same ref and payload, and refuses the same ref with
// another payload (GUIDE, "Behaviour users rely on"). The four push
// operations' fullest requests name AUTHY, which Deputy does not have (409),
// and are skipped: their BIOMETRIC forms replay in
// TestPushIdempotencySurvivesACrashAfterTheCommit.
func TestWeavrIdempotencyRefsReplay(t *testing.T) {
	for _, o := range weavrServed(t) {
		declared := false
		for _, pr := range o.params {
			declared = declared || (pr.Value.In == "header" && pr.Value.Name == "idempotency-ref")
		}
		if !declared {
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			f := newWeavrFixture(t, o)
			path, body, headers := f.request(o)
			if ready, ok := replayReady[o.id]; ok {
				m, _ := body.(map[string]any) // nil without a body
				ready(f, m)
			}
			send := func(body any) resp { return f.send(o, path, body, headers...) }
			first := send(body)
			if first.status >= 300 {
				t.Skipf("the fullest request is refused here: %d %s", first.status, first.body)
			}
			again := send(body)
			assert.Equal(t, first.status, again.status, "%s", again.body)
			assert.Equal(t, string(first.body), string(again.body))
			if m, ok := body.(map[string]any); ok {
				changed := asJSON(t, m).(map[string]any)
				changed["weavrUnknown"] = true // any other payload
				r := send(changed)
				assert.Equal(t, http.StatusBadRequest, r.status, "same ref, other payload: %s", r.body)
			}
		})
	}
}
