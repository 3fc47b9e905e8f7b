package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/assets"
)

// TestClientCodesCurrent fails when server/client/codes.go no longer matches
// core's codes: run `go generate ./server/client`.
func TestClientCodesCurrent(t *testing.T) {
	want, err := Generate("../../core")
	require.NoError(t, err)
	got, err := os.ReadFile("../../server/client/codes.go")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "server/client/codes.go is stale: run go generate ./server/client")
}

// TestCodesFound guards the parser: the codes it finds include the
// well-known ones, and every value is unique.
func TestCodesFound(t *testing.T) {
	codes, err := Codes("../../core")
	require.NoError(t, err)
	byValue := map[string]string{}
	for _, c := range codes {
		if prev, dup := byValue[c.Value]; dup {
			t.Errorf("code %s is declared twice: %s and %s", c.Value, prev, c.Name)
		}
		byValue[c.Value] = c.Name
	}
	for _, v := range []string{"STEP_UP_REQUIRED", "VERIFICATION_CODE_INVALID", "RANK_INSUFFICIENT", "UNAUTHORIZED", "WEBAUTHN_SIGNATURE_INVALID"} {
		assert.Contains(t, byValue, v)
	}
}

// notOnTheWire are core codes that no response body carries, so no OpenAPI
// enum lists them: the code of a 400, whose body names fields instead; the
// fallback of a conflict without a code, which core never builds; a refusal
// of a programme command, which is no API call.
var notOnTheWire = []string{"TOKENISED_PASSWORD_REQUIRED", "CONFLICT", "PROGRAMME_NAME_NOT_UNIQUE", "WEBHOOK_LIMIT_EXCEEDED", "SETTINGS_CHANGED"}

// TestOpenAPIEnumsAreCoreCodes ties the API description to core: every
// errorCode or code enum value in openapi.yaml is a core code, and every core
// code (but notOnTheWire) appears in some enum. Which response carries which
// code is checked by the server tests, which validate every answer against
// its operation's schema.
func TestOpenAPIEnumsAreCoreCodes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(assets.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background(), openapi3.DisableExamplesValidation()))
	inEnums := map[string]bool{}
	seen := map[*openapi3.Schema]bool{}
	for _, ref := range doc.Components.Schemas {
		collectCodeEnums(ref, inEnums, seen)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				for _, mt := range res.Value.Content {
					collectCodeEnums(mt.Schema, inEnums, seen)
				}
			}
		}
	}
	codes, err := Codes("../../core")
	require.NoError(t, err)
	inCore := map[string]bool{}
	for _, c := range codes {
		inCore[c.Value] = true
		if !inEnums[c.Value] && !slices.Contains(notOnTheWire, c.Value) {
			t.Errorf("core code %s (%s) is in no errorCode/code enum of openapi.yaml", c.Value, c.Name)
		}
	}
	for v := range inEnums {
		if !inCore[v] {
			t.Errorf("openapi.yaml enum value %s is no core Code* constant", v)
		}
	}
}

// collectCodeEnums adds the enum values of every property named errorCode or
// code under ref to out.
func collectCodeEnums(ref *openapi3.SchemaRef, out map[string]bool, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	for name, p := range s.Properties {
		if (name == "errorCode" || name == "code") && p.Value != nil {
			for _, v := range p.Value.Enum {
				if str, ok := v.(string); ok {
					out[str] = true
				}
			}
		}
		collectCodeEnums(p, out, seen)
	}
	collectCodeEnums(s.Items, out, seen)
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			collectCodeEnums(sub, out, seen)
		}
	}
}

// TestNoCodeLiterals keeps codes declared once: core and server build errors
// with Code* and Reason* constants, never with a string literal
// (Conflict("X"), Forbidden("X"), Error{Code: "X"}, a body's Code or
// ErrorCode field, a field error's reason).
func TestNoCodeLiterals(t *testing.T) {
	for _, dir := range []string{"../../core", "../../server", "../../tui"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, 0)
			require.NoError(t, err)
			ast.Inspect(f, func(n ast.Node) bool {
				if lit := codeLiteral(n); lit != nil {
					t.Errorf("%s: machine code %s as a literal: declare it as a core Code* or Reason* constant", fset.Position(lit.Pos()), lit.Value)
				}
				return true
			})
		}
	}
}

// codeLiteral returns the string literal n passes as a machine code or a
// field-error reason (Invalid(field, "X"), f.add(field, "X"), Reason: "X"),
// or nil.
func codeLiteral(n ast.Node) *ast.BasicLit {
	switch n := n.(type) {
	case *ast.KeyValueExpr:
		if id, ok := n.Key.(*ast.Ident); ok && (id.Name == "Code" || id.Name == "ErrorCode" || id.Name == "Reason") {
			return stringLit(n.Value)
		}
	case *ast.CallExpr:
		name := ""
		switch fn := n.Fun.(type) {
		case *ast.Ident:
			name = fn.Name
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		}
		if (name == "Conflict" || name == "Forbidden") && len(n.Args) > 0 {
			return stringLit(n.Args[0])
		}
		if (name == "Invalid" || name == "add") && len(n.Args) > 1 {
			return stringLit(n.Args[1])
		}
	}
	return nil
}

// stringLit returns e when it is a non-empty string literal.
func stringLit(e ast.Expr) *ast.BasicLit {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return nil
	}
	if v, _ := strconv.Unquote(lit.Value); v == "" {
		return nil
	}
	return lit
}
