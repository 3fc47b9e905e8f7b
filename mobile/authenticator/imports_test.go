package authenticator

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPortableImports keeps the package buildable for android and ios: no
// cgo, no desktop-only packages, no UI toolkit, and no relying-party library
// in the companion binary.
func TestPortableImports(t *testing.T) {
	forbidden := []string{"C", "os/user", "os/exec", "syscall", "fyne.io/", "github.com/go-webauthn/", "net/http"}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) {
					t.Errorf("%s imports %q", name, path)
				}
			}
		}
	}
}
