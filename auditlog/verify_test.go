package auditlog_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/auditlog"
)

// memTree is a tlog tree in memory.
type memTree []tlog.Hash

func (m memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

type fixture struct {
	signer   note.Signer
	verifier note.Verifier
	origin   string
}

func newFixture(t testing.TB) fixture {
	skey, vkey, err := auditlog.NewKey("deputy-test")
	require.NoError(t, err)
	s, err := note.NewSigner(skey)
	require.NoError(t, err)
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	got, err := auditlog.VerifierOf(skey)
	require.NoError(t, err)
	require.Equal(t, vkey, got, "VerifierOf gives the key's verifier")
	return fixture{s, v, auditlog.Origin("p1")}
}

func leaf(seq int, action string) []byte {
	return fmt.Appendf(nil, `{"v":1,"seq":%d,"programmeId":"p1","action":%q}`, seq, action)
}

// log is the leaves of a log and the checkpoints signed as it grew.
type log struct {
	leaves      [][]byte
	checkpoints [][]byte
}

// grow appends n leaves and signs a checkpoint of the tree.
func (f fixture) grow(t testing.TB, l *log, n int) []byte {
	for range n {
		l.leaves = append(l.leaves, leaf(len(l.leaves)+1, fmt.Sprintf("user.login.%d", len(l.leaves))))
	}
	tree := f.tree(t, l.leaves)
	root, err := tlog.TreeHash(int64(len(l.leaves)), tree)
	require.NoError(t, err)
	signed, err := auditlog.Checkpoint{Origin: f.origin, Size: int64(len(l.leaves)), Root: root}.Sign(f.signer)
	require.NoError(t, err)
	l.checkpoints = append(l.checkpoints, signed)
	return signed
}

func (f fixture) tree(t testing.TB, leaves [][]byte) memTree {
	var m memTree
	for i, b := range leaves {
		hs, err := tlog.StoredHashes(int64(i), b, m)
		require.NoError(t, err)
		m = append(m, hs...)
	}
	return m
}

// export writes leaves with checkpoints and the proofs a Deputy export has.
func (f fixture) export(t testing.TB, leaves, checkpoints [][]byte) []byte {
	var buf bytes.Buffer
	x := auditlog.NewWriter(&buf, f.origin, int64(len(leaves)))
	for _, b := range leaves {
		x.Leaf(b)
	}
	for _, c := range checkpoints {
		x.Checkpoint(c)
	}
	tree := f.tree(t, leaves)
	for _, c := range checkpoints {
		cp, err := auditlog.OpenCheckpoint(c, f.verifier)
		require.NoError(t, err)
		if cp.Size <= int64(len(leaves)) {
			p, err := tlog.ProveTree(int64(len(leaves)), cp.Size, tree)
			require.NoError(t, err)
			x.Proof(cp.Size, p)
		}
	}
	require.NoError(t, x.Close())
	return buf.Bytes()
}

func TestVerifyAcceptsTheLogAsWritten(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 5)
	f.grow(t, &l, 6)
	saved := f.grow(t, &l, 1)
	l.leaves = append(l.leaves, leaf(13, "user.logout")) // after the last checkpoint
	rep, err := auditlog.Verify(bytes.NewReader(f.export(t, l.leaves, l.checkpoints)), f.verifier, "", [][]byte{saved})
	require.NoError(t, err)
	assert.Equal(t, &auditlog.Report{Origin: f.origin, Events: 13, Checkpoints: 4, Covered: 12}, rep)
}

// Each way of rewriting history is found, whether or not the rewriter also
// rebuilt the tree: the leaves are hashed again from the export, and the
// signed checkpoints (the export's own, or one saved from the server's log)
// no longer match.
func TestVerifyFindsTampering(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 4)
	saved := f.grow(t, &l, 4) // 8 events, published
	renumber := func(ls [][]byte) [][]byte {
		out := make([][]byte, len(ls))
		for i, b := range ls {
			s := string(b)
			at := strings.Index(s, `"seq":`) + len(`"seq":`)
			end := at + strings.IndexByte(s[at:], ',')
			out[i] = fmt.Appendf(nil, "%s%d%s", s[:at], i+1, s[end:])
		}
		return out
	}
	clone := func() [][]byte { return append([][]byte(nil), l.leaves...) }
	changed := clone()
	changed[2] = []byte(strings.Replace(string(changed[2]), "user.login", "user.logout", 1))
	inserted := clone()
	inserted = renumber(append(inserted[:3], append([][]byte{leaf(0, "role.grant")}, inserted[3:]...)...))
	reordered := clone()
	reordered[1], reordered[2] = reordered[2], reordered[1]
	reorderedRenumbered := renumber(reordered)
	deleted := renumber(append(clone()[:2], clone()[3:]...))
	for _, c := range []struct {
		name        string
		leaves      [][]byte
		checkpoints [][]byte // left in the database by the rewriter
		want        string
	}{
		{"changed", changed, l.checkpoints, "do not match their signed checkpoint"},
		{"inserted and renumbered", inserted, nil, "do not match their signed checkpoint"},
		{"inserted without renumbering", append(clone()[:3], append([][]byte{leaf(4, "role.grant")}, clone()[3:]...)...), nil, "inserted, deleted or reordered"},
		{"reordered", reordered, nil, "inserted, deleted or reordered"},
		{"reordered and renumbered", reorderedRenumbered, l.checkpoints[:1], "do not match their signed checkpoint"},
		{"deleted and renumbered", deleted, nil, "cut from the end"},
		{"deleted without renumbering", append(clone()[:2], clone()[3:]...), nil, "inserted, deleted or reordered"},
		{"cut from the end, checkpoints removed", clone()[:6], nil, "cut from the end"},
		{"cut from the end, checkpoints kept", clone()[:6], l.checkpoints, "cut from the end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := auditlog.Verify(bytes.NewReader(f.export(t, c.leaves, c.checkpoints)), f.verifier, "", [][]byte{saved})
			require.ErrorIs(t, err, auditlog.ErrTampered)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestVerifyRefusesForeignSignatures(t *testing.T) {
	f, other := newFixture(t), newFixture(t)
	var l log
	f.grow(t, &l, 3)
	forged := other.grow(t, &log{leaves: l.leaves[:2]}, 0)
	_, err := auditlog.Verify(bytes.NewReader(f.export(t, l.leaves, nil)), f.verifier, "", [][]byte{forged})
	require.ErrorContains(t, err, "checkpoint signature")
}

func TestVerifyFindsAChangedCountOrProof(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 3)
	exp := f.export(t, l.leaves, l.checkpoints)
	lines := strings.Split(strings.TrimSpace(string(exp)), "\n")

	short := strings.Join(append([]string{strings.Replace(lines[0], `"size":3`, `"size":4`, 1)}, lines[1:]...), "\n")
	_, err := auditlog.Verify(strings.NewReader(short), f.verifier, "", nil)
	require.ErrorIs(t, err, auditlog.ErrTampered)

	// header, 3 leaves, a checkpoint, a proof: the last leaf moved to the end
	late := strings.Join([]string{lines[0], lines[1], lines[2], lines[4], lines[5], lines[3]}, "\n")
	_, err = auditlog.Verify(strings.NewReader(late), f.verifier, "", nil)
	require.ErrorContains(t, err, "an event after the checkpoints")
}

// An export no signed checkpoint covers proves nothing, whatever its events
// say: a rewriter who also removed every checkpoint, or emptied the log,
// gets ErrUnsigned, unless a checkpoint saved earlier finds the rewrite.
func TestVerifyRefusesAnUnsignedExport(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 4)
	saved := f.grow(t, &l, 4)
	forged := append([][]byte(nil), l.leaves...)
	forged[2] = []byte(strings.Replace(string(forged[2]), "user.login", "user.logout", 1))
	for name, leaves := range map[string][][]byte{"rewritten": forged, "emptied": nil} {
		_, err := auditlog.Verify(bytes.NewReader(f.export(t, leaves, nil)), f.verifier, "", nil)
		require.ErrorIs(t, err, auditlog.ErrUnsigned, name)
		_, err = auditlog.Verify(bytes.NewReader(f.export(t, leaves, nil)), f.verifier, "", [][]byte{saved})
		require.ErrorIs(t, err, auditlog.ErrTampered, name)
	}
}

// An export is checked as the log the verifier asked about: another
// programme's genuine export is refused, and so is a leaf of another
// programme slipped into a log.
func TestVerifyBindsTheLog(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 3)
	exp := f.export(t, l.leaves, l.checkpoints)
	_, err := auditlog.Verify(bytes.NewReader(exp), f.verifier, auditlog.Origin("p1"), nil)
	require.NoError(t, err)
	_, err = auditlog.Verify(bytes.NewReader(exp), f.verifier, auditlog.Origin("p2"), nil)
	require.ErrorContains(t, err, `the export is the log of "deputy/audit/p1", not of "deputy/audit/p2"`)

	foreign := append([][]byte(nil), l.leaves...)
	foreign = append(foreign, []byte(strings.Replace(string(leaf(4, "user.login")), `"p1"`, `"p2"`, 1)))
	_, err = auditlog.Verify(bytes.NewReader(f.export(t, foreign, l.checkpoints)), f.verifier, "", nil)
	require.ErrorIs(t, err, auditlog.ErrTampered)
	assert.ErrorContains(t, err, `event 4 is of programme "p2"`)
}

// Sizes in proofs are the file's: none below one is taken to tlog.
func TestVerifyRefusesBadProofSizes(t *testing.T) {
	f := newFixture(t)
	var l log
	f.grow(t, &l, 3)
	for _, size := range []string{"-1", "0", "-9223372036854775808"} {
		exp := string(f.export(t, l.leaves, l.checkpoints)) + `{"proof":{"size":` + size + `,"hashes":[]}}` + "\n"
		_, err := auditlog.Verify(strings.NewReader(exp), f.verifier, "", nil)
		require.ErrorContains(t, err, "a proof from "+size+" events", size)
	}
}

// Hostile files get an error that says what is wrong and where.
func TestVerifySaysWhyItCannotRead(t *testing.T) {
	f := newFixture(t)
	header := `{"deputyAuditExport":1,"origin":"deputy/audit/p1","size":1}` + "\n"
	for _, c := range []struct {
		name, file, want string
	}{
		{"empty", "", "empty export"},
		{"a huge first line", strings.Repeat("x", 17<<20), "line 1: longer than 16 MiB"},
		{"a huge leaf", header + `{"leaf":"` + strings.Repeat("x", 17<<20) + `"}`, "line 2: longer than 16 MiB"},
		{"a leaf and a checkpoint on one line", header + `{"leaf":{"v":1},"checkpoint":"unchecked"}`, "line 2: more than one of leaf, checkpoint and proof"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := auditlog.Verify(strings.NewReader(c.file), f.verifier, "", nil)
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
		})
	}
}

// A checkpoint's body is C2SP tlog-checkpoint's, in its one encoding: the
// tree size in decimal without sign or leading zeros, the root hash in
// canonical base64 (as tlog.ParseTree reads it), even under a valid signature.
func TestOpenCheckpointRefusesNonCanonicalBodies(t *testing.T) {
	f := newFixture(t)
	var root tlog.Hash
	root[31] = 1
	good := base64.StdEncoding.EncodeToString(root[:])
	loose := good[:42] + "F=" // "AAE=" with an unused bit set: the same bytes
	for _, c := range []struct{ name, size, root string }{
		{"plus sign", "+5", good},
		{"leading zero", "05", good},
		{"minus zero", "-0", good},
		{"loose base64", "5", loose},
	} {
		t.Run(c.name, func(t *testing.T) {
			signed, err := note.Sign(&note.Note{Text: f.origin + "\n" + c.size + "\n" + c.root + "\n"}, f.signer)
			require.NoError(t, err)
			_, err = auditlog.OpenCheckpoint(signed, f.verifier)
			require.ErrorContains(t, err, "checkpoint: bad")
		})
	}
	signed, err := note.Sign(&note.Note{Text: f.origin + "\n5\n" + good + "\n"}, f.signer)
	require.NoError(t, err)
	c, err := auditlog.OpenCheckpoint(signed, f.verifier)
	require.NoError(t, err)
	assert.Equal(t, auditlog.Checkpoint{Origin: f.origin, Size: 5, Root: root}, c)
}

// What Verify checks is what every reader of the file sees: encoding/json
// takes the last of two keys and matches keys whatever their case, where jq,
// Python and most readers take the exact key (and some the first), so a
// line holding two leaves showed readers the one not verified. Only the
// lines the Writer writes are read.
func TestVerifyReadsEachLineOneWay(t *testing.T) {
	f := newFixture(t)
	var l log
	saved := f.grow(t, &l, 3)
	lines := strings.Split(strings.TrimSpace(string(f.export(t, l.leaves, l.checkpoints))), "\n")
	genuine := string(l.leaves[1])
	forged := strings.Replace(genuine, "user.login", "role.grant", 1)
	for _, c := range []struct{ name, line string }{
		{"a second key in another case", `{"leaf":` + forged + `,"Leaf":` + genuine + `}`},
		{"the key twice", `{"leaf":` + forged + `,"leaf":` + genuine + `}`},
		{"another field", `{"leaf":` + genuine + `,"note":"role.grant"}`},
		{"blank space", `{ "leaf": ` + genuine + ` }`},
		{"the header's origin twice", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			edited := append([]string(nil), lines...)
			if c.line != "" {
				edited[2] = c.line
			} else {
				edited[0] = strings.Replace(edited[0], `}`, `,"Origin":"deputy/audit/p1"}`, 1)
				edited[0] = strings.Replace(edited[0], `"origin":"deputy/audit/p1"`, `"origin":"deputy/audit/p2"`, 1)
			}
			_, err := auditlog.Verify(strings.NewReader(strings.Join(edited, "\n")), f.verifier, "", [][]byte{saved})
			require.ErrorContains(t, err, "not as a Deputy export writes it")
		})
	}
}
