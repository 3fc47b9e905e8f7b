package server

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// A submission of 10 MiB of empty rows, or of one row holding them (beside
// a number, which makes the decoder coerce the row as a generic value), is
// refused before any row is decoded: the refusal allocates a small fraction
// of what decoding them would (783 MiB for the rows, 1.1 GiB for the row).
func TestBulkBodiesRefusedBeforeDecoding(t *testing.T) {
	many := append([]byte{'['}, bytes.Repeat([]byte("{},"), 10<<20/3)...)
	many[len(many)-1] = ']'
	var one bytes.Buffer
	one.WriteString(`[{"n":1,"x":[`)
	one.Write(bytes.Repeat([]byte("{},"), (10<<20-64)/3))
	one.WriteString(`{}]}]`)
	require.LessOrEqual(t, one.Len(), maxBulkBodyBytes)
	for name, c := range map[string]struct {
		body  []byte
		field string
	}{"3.5 million rows": {many, "operations"}, "one row of 10 MiB": {one.Bytes(), "[0]"}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeBulk[bulkUserCreateItem](c.body)
		runtime.ReadMemStats(&after)
		var ce *core.Error
		require.ErrorAs(t, err, &ce, name)
		assert.Equal(t, []core.FieldError{{Field: c.field, Reason: core.ReasonSize}}, fieldsOnly(ce.Fields), name)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "%s: bytes allocated to refuse it", name)
		t.Logf("%s: %.1f MiB allocated", name, float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
	}
}

// Splitting into rows keeps the decoder's verdicts, each naming its row.
func TestBulkRowsDecodeErrors(t *testing.T) {
	for body, want := range map[string]string{
		`[]`:                              "operations:SIZE",
		`{}`:                              "",
		`[{"requestBody":{}}, 5]`:         "", // "row [1]: the body must be a JSON object"
		`[{"requestBody":{},"nope":1}]`:   "[0].nope:NOT_IN",
		`[{"requestBody":{"name":true}}]`: "[0].requestBody.name:IN",
		`[{}] [{}]`:                       "",
		`[{},`:                            "",
		`[{"a":1,"a":2}]`:                 "[0].a:NOT_IN",
	} {
		_, err := decodeBulk[bulkUserCreateItem]([]byte(body))
		var ce *core.Error
		require.ErrorAs(t, err, &ce, body)
		assert.Equal(t, core.ErrInvalid, ce.Class, body)
		got := ""
		for _, f := range ce.Fields {
			got = f.Field + ":" + f.Reason
		}
		assert.Equal(t, want, got, "%s: %s", body, ce.Message)
		if want == "" {
			assert.NotEmpty(t, ce.Message, body)
		}
	}
	rows, err := decodeBulk[bulkUserCreateItem]([]byte(` [ {"requestBody": {"name": "Ada"}} , {"requestBody": {"name": 12}} ] `))
	require.NoError(t, err)
	require.Len(t, rows, 2)
}

// fieldsOnly drops what a field error says beyond its field and reason.
func fieldsOnly(errs []core.FieldError) []core.FieldError {
	out := make([]core.FieldError, len(errs))
	for i, e := range errs {
		out[i] = core.FieldError{Field: e.Field, Reason: e.Reason}
	}
	return out
}
