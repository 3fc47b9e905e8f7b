package auditlog

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Report says what a verified export holds.
type Report struct {
	Origin      string
	Events      int64 // events in the export
	Checkpoints int   // signed checkpoints checked, the export's and the saved ones
	Covered     int64 // events covered by the largest checked checkpoint
}

// ErrTampered is wrapped by every error that finds the log changed.
var ErrTampered = errors.New("audit log tampered with")

func tampered(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTampered, fmt.Sprintf(format, args...))
}

// ErrUnsigned is returned for an export that no signed checkpoint covers:
// nothing in it can be trusted.
var ErrUnsigned = errors.New("no signed checkpoint covers the export")

// Verify checks an export file with only the verifier key: every leaf is
// numbered in order and belongs to the log (origin, when not "", says which
// log it must be), every checkpoint in the file and every saved one (signed
// notes kept from the server's log lines, say) is signed by the key and
// matches the tree of the exported events, at least one of them does, and
// the file's tree proofs hold. It finds a changed, inserted, reordered or
// deleted event, and events cut from the end after a checkpoint covering them
// was published. Events after the largest checkpoint are reported as not
// covered (Report.Covered): only a later checkpoint can vouch for them.
func Verify(r io.Reader, v note.Verifier, origin string, saved [][]byte) (*Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), maxLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, readError(1, err)
		}
		return nil, errors.New("empty export")
	}
	var h header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != exportVersion {
		return nil, errors.New("line 1: not a Deputy audit export (version 1)")
	}
	if want, _ := json.Marshal(h); !bytes.Equal(sc.Bytes(), want) {
		return nil, errors.New("line 1: " + notWritten)
	}
	if origin != "" && h.Origin != origin {
		return nil, fmt.Errorf("the export is the log of %q, not of %q", h.Origin, origin)
	}
	t := &tree{origin: h.Origin}
	var checkpoints [][]byte
	var proofs []proof
	line := 2
	for ; sc.Scan(); line++ {
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if l.parts() > 1 { // one of them would go unchecked
			return nil, fmt.Errorf("line %d: more than one of leaf, checkpoint and proof", line)
		}
		if l.parts() == 1 && !l.written(sc.Bytes()) {
			return nil, fmt.Errorf("line %d: %s", line, notWritten)
		}
		switch {
		case l.Leaf != nil:
			if len(checkpoints)+len(proofs) > 0 {
				return nil, tampered("line %d: an event after the checkpoints", line)
			}
			if err := t.add(l.Leaf); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
		case l.Checkpoint != nil:
			checkpoints = append(checkpoints, []byte(*l.Checkpoint))
		case l.Proof != nil:
			proofs = append(proofs, *l.Proof)
		default:
			return nil, fmt.Errorf("line %d: neither leaf, checkpoint nor proof", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, readError(line, err)
	}
	if t.size() != h.Size {
		return nil, tampered("the export says %d events but holds %d", h.Size, t.size())
	}
	rep := &Report{Origin: h.Origin, Events: t.size()}
	for _, signed := range append(checkpoints, saved...) {
		c, err := OpenCheckpoint(signed, v)
		if err != nil {
			return nil, err
		}
		if err := t.check(h.Origin, c); err != nil {
			return nil, err
		}
		rep.Checkpoints++
		rep.Covered = max(rep.Covered, c.Size)
	}
	if rep.Covered == 0 {
		return nil, fmt.Errorf("%w: give a checkpoint saved from the server's log (--checkpoint), or export after the server signed one", ErrUnsigned)
	}
	for _, p := range proofs {
		if err := t.checkProof(p); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// notWritten refuses a line other than the Writer's. encoding/json takes the
// last of two equal keys and matches keys whatever their case, where jq and
// most other readers take the exact key, some the first: a line holding two
// leaves would show them an event other than the one verified.
const notWritten = "not as a Deputy export writes it (a key twice, in another case, or another field or spacing)"

// written reports whether b is the line the Writer writes for l, so that
// every reader of the file reads the one event, checkpoint or proof Verify
// checked.
func (l exportLine) written(b []byte) bool {
	if l.Leaf != nil {
		leaf, ok := bytes.CutPrefix(b, []byte(`{"leaf":`))
		leaf, end := bytes.CutSuffix(leaf, []byte("}"))
		return ok && end && bytes.Equal(leaf, l.Leaf)
	}
	want, err := json.Marshal(l)
	return err == nil && bytes.Equal(b, want)
}

// maxLine is the longest line Verify reads: a leaf, a signed checkpoint or a proof.
const maxLine = 16 << 20

// readError says which line of an export could not be read, and why.
func readError(line int, err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("line %d: longer than %d MiB", line, maxLine>>20)
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// tree is the Merkle tree of the exported leaves, held in memory as tlog
// stores it (about two hashes per leaf).
type tree struct {
	origin string // the log's, which every leaf's programme must name
	hashes []tlog.Hash
	leaves int64
}

func (t *tree) size() int64 { return t.leaves }

// ReadHashes implements tlog.HashReader.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("tree hash %d not stored", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *tree) add(leaf []byte) error {
	n := t.leaves
	var ev struct {
		Seq       int64  `json:"seq"`
		Programme string `json:"programmeId"`
	}
	if err := json.Unmarshal(leaf, &ev); err != nil {
		return fmt.Errorf("leaf: %w", err)
	}
	if ev.Seq != n+1 {
		return tampered("event %d of the export has seq %d: events were inserted, deleted or reordered", n+1, ev.Seq)
	}
	if Origin(ev.Programme) != t.origin {
		return tampered("event %d is of programme %q, not of this log (%q)", n+1, ev.Programme, t.origin)
	}
	hs, err := tlog.StoredHashes(n, leaf, t)
	if err != nil {
		return err
	}
	t.hashes = append(t.hashes, hs...)
	t.leaves++
	return nil
}

// check compares a checkpoint with the tree of the exported events.
func (t *tree) check(origin string, c Checkpoint) error {
	if c.Origin != origin {
		return fmt.Errorf("a checkpoint of %q, not of this log (%q)", c.Origin, origin)
	}
	if c.Size > t.leaves {
		return tampered("a checkpoint covers %d events but the log holds %d: events were cut from the end", c.Size, t.leaves)
	}
	root, err := tlog.TreeHash(c.Size, t)
	if err != nil {
		return err
	}
	if root != c.Root {
		return tampered("the first %d events do not match their signed checkpoint: an event was changed, inserted, deleted or reordered", c.Size)
	}
	return nil
}

// checkProof checks a tree proof from a checkpoint's size to the export's.
func (t *tree) checkProof(p proof) error {
	if p.Size < 1 {
		return fmt.Errorf("a proof from %d events", p.Size)
	}
	if p.Size > t.leaves {
		return tampered("a proof from %d events but the log holds %d", p.Size, t.leaves)
	}
	pr := make(tlog.TreeProof, len(p.Hashes))
	for i, s := range p.Hashes {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return fmt.Errorf("proof from %d: bad hash", p.Size)
		}
		copy(pr[i][:], b)
	}
	old, err := tlog.TreeHash(p.Size, t)
	if err != nil {
		return err
	}
	whole, err := tlog.TreeHash(t.leaves, t)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(pr, t.leaves, whole, p.Size, old); err != nil {
		return tampered("the proof from %d to %d events fails: %v", p.Size, t.leaves, err)
	}
	return nil
}
