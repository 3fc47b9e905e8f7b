package core

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// TestObservedListsEveryValue: Observed lists every constant this package
// declares of each outcome type the Observer takes, so that a new one shows
// at zero like the others (the constants are read from observer.go).
func TestObservedListsEveryValue(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "observer.go", nil, 0)
	must.NoError(t, err)
	declared := map[string][]string{} // type: constant values
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, spec := range g.Specs {
				if v := spec.(*ast.ValueSpec); v.Type != nil {
					typ := v.Type.(*ast.Ident).Name
					for _, val := range v.Values {
						s, err := strconv.Unquote(val.(*ast.BasicLit).Value)
						must.NoError(t, err)
						declared[typ] = append(declared[typ], s)
					}
				}
			}
		}
	}
	v := Observed()
	var stepUps []string
	for _, outcomes := range v.StepUps {
		for _, o := range outcomes {
			if !slices.Contains(stepUps, string(o)) {
				stepUps = append(stepUps, string(o))
			}
		}
	}
	assert.ElementsMatch(t, declared["SignInOutcome"], strs(v.SignIns))
	assert.ElementsMatch(t, declared["LockoutKind"], strs(v.Lockouts))
	assert.ElementsMatch(t, declared["StepUpOutcome"], stepUps)
	assert.ElementsMatch(t, declared["WebhookOutcome"], strs(v.Webhooks))
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
