package auditlog

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"

	"golang.org/x/mod/sumdb/tlog"
)

// The export file is JSON lines, in this order:
//
//	{"deputyAuditExport":1,"origin":"deputy/audit/…","size":N}
//	{"leaf":{…}}                       N times, the events in log order
//	{"checkpoint":"<signed note>"}     every checkpoint, oldest first
//	{"proof":{"size":S,"hashes":[…]}}  for each checkpoint of size S <= N, the
//	                                   tlog tree proof that its tree is a prefix
//	                                   of the export's tree of size N
//
// A leaf line carries the exact bytes the log hashed (a compact JSON object),
// so the file can be checked without Deputy.
const exportVersion = 1

type header struct {
	Version int    `json:"deputyAuditExport"`
	Origin  string `json:"origin"`
	Size    int64  `json:"size"`
}

// proof is a tree proof between a checkpoint's size and the export's size.
type proof struct {
	Size   int64    `json:"size"`
	Hashes []string `json:"hashes"` // base64
}

// exportLine is any line of the file after the header.
type exportLine struct {
	Leaf       json.RawMessage `json:"leaf,omitempty"`
	Checkpoint *string         `json:"checkpoint,omitempty"`
	Proof      *proof          `json:"proof,omitempty"`
}

// parts counts what the line holds: one of leaf, checkpoint and proof.
func (l exportLine) parts() int {
	n := 0
	for _, present := range []bool{l.Leaf != nil, l.Checkpoint != nil, l.Proof != nil} {
		if present {
			n++
		}
	}
	return n
}

// Writer writes an export file; the first error sticks and Close returns it.
type Writer struct {
	w   *bufio.Writer
	err error
}

// NewWriter starts an export of a log of size events.
func NewWriter(w io.Writer, origin string, size int64) *Writer {
	x := &Writer{w: bufio.NewWriterSize(w, 1<<16)}
	x.line(header{Version: exportVersion, Origin: origin, Size: size})
	return x
}

func (x *Writer) line(v any) {
	if x.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = x.w.Write(append(b, '\n'))
	}
	x.err = err
}

// Leaf writes the next event's leaf bytes, a compact JSON object.
func (x *Writer) Leaf(leaf []byte) {
	if x.err != nil {
		return
	}
	_, _ = x.w.WriteString(`{"leaf":`)
	_, _ = x.w.Write(leaf)
	_, x.err = x.w.WriteString("}\n")
}

// Checkpoint writes a signed checkpoint.
func (x *Writer) Checkpoint(signed []byte) {
	s := string(signed)
	x.line(exportLine{Checkpoint: &s})
}

// Proof writes the tree proof from a checkpoint of the given size to the export's size.
func (x *Writer) Proof(size int64, p tlog.TreeProof) {
	hashes := make([]string, len(p))
	for i, h := range p {
		hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	x.line(exportLine{Proof: &proof{Size: size, Hashes: hashes}})
}

// Close flushes the file and returns the first error.
func (x *Writer) Close() error {
	if x.err != nil {
		return x.err
	}
	return x.w.Flush()
}
