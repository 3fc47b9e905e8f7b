package server

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
)

// A submission of 10 MiB of empty rows is refused by its count before a row
// is decoded: the refusal allocates a small fraction of what decoding its
// 3.5 million rows would (several hundred MiB).
func TestBulkOverLongRefusedBeforeDecoding(t *testing.T) {
	body := append([]byte{'['}, bytes.Repeat([]byte("{},"), 10<<20/3)...)
	body[len(body)-1] = ']'
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeBulk[bulkUserCreateItem](body)
	runtime.ReadMemStats(&after)
	var ce *core.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []core.FieldError{{Field: "operations", Reason: core.ReasonSize}}, fieldsOnly(ce.Fields))
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated to refuse it")
}

func TestArrayLength(t *testing.T) {
	for body, want := range map[string]int{
		`[]`: 0, `[{}]`: 1, ` [ {"a":[1,2]}, 3, "x" ] `: 3, `[{},{},{},{},{}]`: 4, // stops at most
		`{}`: -1, `"[1]"`: -1, `[{],{}]`: -1, ``: -1,
	} {
		assert.Equal(t, want, arrayLength([]byte(body), 4), body)
	}
}

// fieldsOnly drops what a field error says beyond its field and reason.
func fieldsOnly(errs []core.FieldError) []core.FieldError {
	out := make([]core.FieldError, len(errs))
	for i, e := range errs {
		out[i] = core.FieldError{Field: e.Field, Reason: e.Reason}
	}
	return out
}
