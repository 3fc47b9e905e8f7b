// Package weavrspec finds Weavr's own OpenAPI descriptions, the compatibility
// target tests hold Deputy's traffic to. They are third-party reference
// files kept beside the checkout (a shared/weavr directory in one of its
// parents, or DEPUTY_WEAVR_SPECS), never copied into it: a test that needs
// them skips, saying why, where they are absent.
package weavrspec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// EnvDir names the directory holding Weavr's descriptions, when it is not
// a shared/weavr directory beside the checkout or one of its parents.
const EnvDir = "DEPUTY_WEAVR_SPECS"

// Weavr's descriptions, by file name.
const (
	Multi    = "weavr-multi-openapi-original.yml"
	Webhooks = "weavr-webhooks-openapi-original.yml"
)

// ErrNotFound says that no directory holds Weavr's descriptions.
var ErrNotFound = errors.New("no OpenAPI descriptions of Weavr's found: set " + EnvDir + " or keep them in a shared/weavr directory beside the checkout")

// Dir finds the directory holding Weavr's descriptions: EnvDir, or the
// nearest shared/weavr from the working directory upwards.
func Dir() (string, error) {
	if dir := os.Getenv(EnvDir); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "shared", "weavr")
		if _, err := os.Stat(filepath.Join(candidate, Multi)); err == nil {
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			return "", ErrNotFound
		}
	}
}

type loaded struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

var docs sync.Map // file name -> *loaded

// Open parses one of Weavr's descriptions once per process. It returns
// ErrNotFound when they are absent.
func Open(name string) (*openapi3.T, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	v, _ := docs.LoadOrStore(name, &loaded{})
	l := v.(*loaded)
	l.once.Do(func() {
		// Loaded with references resolved but not validated: the
		// webhooks description names a security scheme it never defines.
		l.doc, l.err = openapi3.NewLoader().LoadFromFile(filepath.Join(dir, name))
		if l.err != nil {
			l.err = fmt.Errorf("load Weavr's description %s: %w", name, l.err)
		}
	})
	return l.doc, l.err
}

// Load is Open for tests: it skips t when the descriptions are not found;
// a description that does not parse fails t.
func Load(t testing.TB, name string) *openapi3.T {
	t.Helper()
	doc, err := Open(name)
	if errors.Is(err, ErrNotFound) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
