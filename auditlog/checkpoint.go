// Package auditlog owns the formats that make Deputy's audit log verifiable
// offline: the checkpoint (a signed head of the log's Merkle tree), the
// export file, and the verification of an export against checkpoints.
//
// Each programme's audit events are the leaves of an append-only Merkle tree
// (RFC 6962, as golang.org/x/mod/sumdb/tlog builds it). A checkpoint is the
// C2SP signed-note "checkpoint" body (origin, tree size, base64 root hash)
// signed with Ed25519 (golang.org/x/mod/sumdb/note). Whoever keeps a
// checkpoint can later prove that the log still holds, unchanged, every event
// it covered.
package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Origin names the log of one programme in its checkpoints.
func Origin(programmeID string) string { return "deputy/audit/" + programmeID }

// Checkpoint is the signed head of a log.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text is the checkpoint's note body (C2SP tlog-checkpoint):
// the origin, the tree size and the base64 root hash, a line each.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// Sign returns the checkpoint as a signed note.
func (c Checkpoint) Sign(s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, s)
}

// OpenCheckpoint checks a signed checkpoint against the verifier and parses
// it. Blank space around the note (a copy from a log line) is ignored.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	signed = append(bytes.TrimSpace(signed), '\n')
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	return parseCheckpoint(n.Text)
}

func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	// One encoding of each, as tlog.ParseTree reads them: decimal without
	// sign or leading zeros, and canonical base64.
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad root hash %q", lines[2])
	}
	c := Checkpoint{Origin: lines[0], Size: size}
	copy(c.Root[:], root)
	return c, nil
}

// NewKey returns a new Ed25519 signing key and its verifier key, in note's
// text encodings ("PRIVATE+KEY+name+hash+data" and "name+hash+data").
func NewKey(name string) (signer, verifier string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// VerifierOf returns the verifier key of a signer key made by NewKey.
func VerifierOf(signerKey string) (string, error) {
	signerKey = strings.TrimSpace(signerKey)
	if _, err := note.NewSigner(signerKey); err != nil {
		return "", fmt.Errorf("audit signing key: %w", err)
	}
	// NewSigner accepted "PRIVATE+KEY+name+hash+base64(alg || seed)".
	parts := strings.SplitN(signerKey, "+", 5)
	data, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(data) != 1+ed25519.SeedSize || data[0] != algEd25519 {
		return "", errors.New("audit signing key: not an Ed25519 key")
	}
	return note.NewEd25519VerifierKey(parts[2], ed25519.NewKeyFromSeed(data[1:]).Public().(ed25519.PublicKey))
}

// algEd25519 is note's algorithm byte for Ed25519 keys.
const algEd25519 = 1
