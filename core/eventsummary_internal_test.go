package core

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	must "github.com/stretchr/testify/require"
)

// TestEveryUserActionHasWords: each audit action this package writes that can
// be about a user has a summary, so that a new one cannot reach the admin UI
// as a bare action name. The actions are read from the source: the string
// literals that look like actions ("kind.what") among the arguments of audit
// calls, the values of the action maps, and what variables named action are
// set to.
func TestEveryUserActionHasWords(t *testing.T) {
	files, err := filepath.Glob("*.go")
	must.NoError(t, err)
	actions := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		must.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "audit" || sel.Sel.Name == "auditConfirmation") {
					for _, arg := range n.Args {
						addAction(actions, arg)
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					if id, ok := lhs.(*ast.Ident); ok && id.Name == "action" && i < len(n.Rhs) {
						addAction(actions, n.Rhs[i])
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) == 1 && strings.HasSuffix(n.Names[0].Name, "Actions") {
					for _, v := range n.Values {
						if lit, ok := v.(*ast.CompositeLit); ok {
							for _, el := range lit.Elts {
								if kv, ok := el.(*ast.KeyValueExpr); ok {
									addAction(actions, kv.Value)
								}
							}
						}
					}
				}
			}
			return true
		})
	}
	must.Greater(t, len(actions), 30, "the actions were found: %v", actions)
	for a := range actions {
		switch strings.SplitN(a, ".", 2)[0] {
		case "programme", "webhook", "bulk", "identity", "resource": // never about a user
			continue
		}
		assert.Contains(t, eventSummaries, a, "words for %s", a)
	}
}

// addAction adds e to actions when it is a string literal that looks like
// an action.
func addAction(actions map[string]bool, e ast.Expr) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return
	}
	kind, what, ok := strings.Cut(s, ".")
	if ok && kind != "" && what != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz_.") == "" {
		actions[s] = true
	}
}
