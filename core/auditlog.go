package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/deputyhq/deputy/auditlog"
)

// The audit log is tamper-evident: each programme's events are the leaves of
// an append-only Merkle tree (RFC 6962, built by tlog; event Seq is leaf
// Seq-1), stored with the events in the transaction of each change, and a
// signed checkpoint of the tree is published now and then (CheckpointAudit).
// Whoever keeps a published checkpoint can prove with the verifier key alone
// that an export of the log holds every event it covered, unchanged
// (auditlog.Verify).

// When a programme's log gets a checkpoint, unless Config says otherwise.
const (
	DefaultAuditCheckpointEvents   = 1000
	DefaultAuditCheckpointInterval = time.Minute
)

// auditLeafV1 is what a leaf hashes. It names each field, so that later fields
// of AuditEvent never change the bytes of leaves already in the tree.
type auditLeafV1 struct {
	V          int               `json:"v"`
	Seq        uint64            `json:"seq"`
	Programme  string            `json:"programmeId"`
	At         string            `json:"at"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	Subject    string            `json:"subject"`
	RequestRef string            `json:"requestRef,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// AuditLeaf returns the bytes of e that its leaf hashes: compact JSON, keys
// in a fixed order (encoding/json sorts the details' keys).
func AuditLeaf(e *AuditEvent) []byte {
	b, err := json.Marshal(auditLeafV1{
		V: 1, Seq: e.Seq, Programme: e.ProgrammeID, At: e.At.UTC().Format(time.RFC3339Nano),
		Actor: e.Actor, Action: e.Action, Subject: e.Subject, RequestRef: e.RequestRef, Details: e.Details,
	})
	if err != nil {
		panic(err) // strings and a map of strings always encode
	}
	return b
}

// AddAuditLeaf stores the tree hashes of e, just appended, as leaf e.Seq-1.
func AddAuditLeaf(tx Tx, e *AuditEvent) error {
	n := int64(e.Seq) - 1
	hashes, err := tlog.StoredHashes(n, AuditLeaf(e), auditHashes{tx, e.ProgrammeID})
	if err != nil {
		return fmt.Errorf("audit leaf %d: %w", e.Seq, err)
	}
	return tx.PutAuditHashes(e.ProgrammeID, tlog.StoredHashIndex(0, n), hashes)
}

// auditHashes reads a programme's tree hashes in tx (tlog.HashReader).
type auditHashes struct {
	tx          ReadTx
	programmeID string
}

func (r auditHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return r.tx.AuditHashes(r.programmeID, indexes)
}

// CheckpointAudit signs a checkpoint of every programme's log that is due:
// AuditCheckpointEvents new events since the last one, or new events and
// AuditCheckpointInterval since it. It publishes each as a log line (keep
// them: they are what an export is verified against) and stores it. Replicas
// may run it together: a checkpoint of a size already stored is skipped.
func (s *Service) CheckpointAudit(ctx context.Context) (int, error) {
	return s.checkpointAudit(ctx, false)
}

// SealAudit signs a checkpoint of every programme's log that has events no
// checkpoint covers, due or not, as CheckpointAudit does: a server stopping
// leaves nothing unsigned, so that an export taken after it verifies whole.
func (s *Service) SealAudit(ctx context.Context) (int, error) {
	return s.checkpointAudit(ctx, true)
}

// checkpointAudit signs the checkpoints that are due, or, with all, every
// one that would cover new events.
func (s *Service) checkpointAudit(ctx context.Context, all bool) (int, error) {
	if s.cfg.AuditSigner == nil {
		return 0, nil
	}
	var due []*AuditCheckpoint
	err := s.store.View(ctx, func(tx ReadTx) error {
		due = due[:0]
		ps, err := tx.Programmes()
		if err != nil {
			return err
		}
		for _, p := range ps {
			c, err := s.dueCheckpoint(tx, p.ID, all)
			if errors.Is(err, errAuditRewritten) { // signing on would vouch for the rewrite
				s.log.Error("audit log rewritten: no checkpoint signed", "programme", p.ID, "err", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("programme %s: %w", p.ID, err)
			}
			if c != nil {
				due = append(due, c)
			}
		}
		return nil
	})
	if err != nil {
		return 0, internal("audit checkpoint", err)
	}
	made := 0
	for _, c := range due {
		err := s.store.Update(ctx, func(tx Tx) error { return tx.InsertAuditCheckpoint(c) })
		if errors.Is(err, ErrDuplicate) {
			continue
		}
		if err != nil {
			return made, internal("audit checkpoint", err)
		}
		made++
		s.noteAuditHead(c)
		s.log.Info("audit checkpoint", "programme", c.ProgrammeID, "size", c.Size, "checkpoint", string(c.Note))
	}
	return made, nil
}

// errAuditRewritten reports a programme's log that no longer holds what a
// checkpoint signed earlier covered: someone with the database changed,
// inserted, reordered or deleted events and the tree hashes with them.
var errAuditRewritten = errors.New("the audit log no longer holds what an earlier signed checkpoint covered")

// checkAuditKeyPair refuses a signer without its verifier, or with another
// key's.
func checkAuditKeyPair(s note.Signer, v note.Verifier) error {
	if s == nil {
		return nil
	}
	if v == nil {
		return errors.New("an audit signer needs its verifier")
	}
	probe, err := note.Sign(&note.Note{Text: "deputy audit key check\n"}, s)
	if err == nil {
		_, err = note.Open(probe, note.VerifierList(v))
	}
	if err != nil {
		return fmt.Errorf("the audit verifier is not the signer's: %w", err)
	}
	return nil
}

// checkAuditSigners refuses a store whose last checkpoint of a programme's
// log v does not verify: signed with another key, so that signing on would
// put a second key on one log (a replica given the wrong key file, which a
// missing file makes new), and exports would no longer verify.
func checkAuditSigners(ctx context.Context, store Store, v note.Verifier) error {
	if v == nil {
		return nil
	}
	return store.View(ctx, func(tx ReadTx) error {
		ps, err := tx.Programmes()
		if err != nil {
			return err
		}
		for _, p := range ps {
			last, err := tx.LastAuditCheckpoint(p.ID)
			if errors.Is(err, ErrRecordNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := auditlog.OpenCheckpoint(last.Note, v); err != nil {
				return fmt.Errorf("the audit checkpoints of programme %s are signed by another key than %s+%08x (this server's); give every server the key that signed them", p.ID, v.Name(), v.KeyHash())
			}
		}
		return nil
	})
}

// noteAuditHead keeps c as the last checkpoint this process signed of its
// programme's log.
func (s *Service) noteAuditHead(c *AuditCheckpoint) {
	head, err := auditlog.OpenCheckpoint(c.Note, s.cfg.AuditVerifier)
	if err != nil {
		return // signed by this process a moment ago: never
	}
	s.auditHeadsMu.Lock()
	defer s.auditHeadsMu.Unlock()
	if head.Size > s.auditHeads[c.ProgrammeID].Size {
		s.auditHeads[c.ProgrammeID] = head
	}
}

// sameHistory checks that a programme's log of size events still holds what
// its earlier checkpoints signed: the last one stored (when it verifies; one
// that does not was put there by someone else) and the last one this process
// signed, which a database edit cannot remove.
func (s *Service) sameHistory(tx ReadTx, programmeID string, stored *AuditCheckpoint, size int64) error {
	s.auditHeadsMu.Lock()
	heads := []auditlog.Checkpoint{s.auditHeads[programmeID]}
	s.auditHeadsMu.Unlock()
	if stored != nil {
		head, err := auditlog.OpenCheckpoint(stored.Note, s.cfg.AuditVerifier)
		if err != nil {
			return fmt.Errorf("%w: its last stored checkpoint is not signed by this key (%w)", errAuditRewritten, err)
		}
		heads = append(heads, head)
	}
	for _, h := range heads {
		if h.Size == 0 {
			continue
		}
		if h.Size > size {
			return fmt.Errorf("%w: %d events, where a checkpoint signed %d", errAuditRewritten, size, h.Size)
		}
		root, err := tlog.TreeHash(h.Size, auditHashes{tx, programmeID})
		if err != nil {
			return err
		}
		if root != h.Root {
			return fmt.Errorf("%w: its first %d events hash otherwise than their signed checkpoint", errAuditRewritten, h.Size)
		}
	}
	return nil
}

// dueCheckpoint returns the signed checkpoint a programme's log needs now
// (with all, whenever it has new events), or nil.
func (s *Service) dueCheckpoint(tx ReadTx, programmeID string, all bool) (*AuditCheckpoint, error) {
	size, err := tx.AuditSize(programmeID)
	if err != nil || size == 0 {
		return nil, err
	}
	now := s.clock.Now()
	last, err := tx.LastAuditCheckpoint(programmeID)
	switch {
	case errors.Is(err, ErrRecordNotFound):
	case err != nil:
		return nil, err
	case last.Size >= size:
		return nil, nil
	case !all && size-last.Size < int64(s.cfg.AuditCheckpointEvents) && now.Sub(last.At) < s.cfg.AuditCheckpointInterval:
		return nil, nil
	}
	if err := s.sameHistory(tx, programmeID, last, size); err != nil {
		return nil, err
	}
	root, err := tlog.TreeHash(size, auditHashes{tx, programmeID})
	if err != nil {
		return nil, err
	}
	signed, err := auditlog.Checkpoint{Origin: auditlog.Origin(programmeID), Size: size, Root: root}.Sign(s.cfg.AuditSigner)
	if err != nil {
		return nil, err
	}
	return &AuditCheckpoint{ProgrammeID: programmeID, Size: size, Note: signed, At: now}, nil
}

// RunAuditCheckpoints calls CheckpointAudit every tick until ctx ends.
func (s *Service) RunAuditCheckpoints(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := s.lead(ctx, "audit-checkpoints", func(ctx context.Context) error {
				_, err := s.CheckpointAudit(ctx)
				return err
			})
			if err != nil && ctx.Err() == nil {
				s.log.Error("audit checkpoint", "err", err)
			}
		}
	}
}

// auditExportPage is how many events an export reads at a time.
const auditExportPage = 1000

// ExportAudit writes a programme's whole audit log to w in auditlog's export
// format, from one read transaction: every event, every checkpoint and the
// tree proof from each checkpoint to the exported tree.
func (s *Service) ExportAudit(ctx context.Context, programmeID string, w io.Writer) error {
	err := s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Programme(programmeID); err != nil {
			return err
		}
		size, err := tx.AuditSize(programmeID)
		if err != nil {
			return err
		}
		x := auditlog.NewWriter(w, auditlog.Origin(programmeID), size)
		for after := uint64(0); after < uint64(size); {
			es, err := tx.AuditEvents(programmeID, after, auditExportPage)
			if err != nil {
				return err
			}
			if len(es) == 0 {
				return fmt.Errorf("audit events end at %d of %d", after, size)
			}
			for _, e := range es {
				x.Leaf(AuditLeaf(e))
			}
			after = es[len(es)-1].Seq
		}
		cps, err := tx.AuditCheckpoints(programmeID, 0, 0)
		if err != nil {
			return err
		}
		for _, c := range cps {
			x.Checkpoint(c.Note)
		}
		for _, c := range cps {
			p, err := tlog.ProveTree(size, c.Size, auditHashes{tx, programmeID})
			if err != nil {
				return fmt.Errorf("proof from checkpoint %d: %w", c.Size, err)
			}
			x.Proof(c.Size, p)
		}
		return x.Close()
	})
	if errors.Is(err, ErrRecordNotFound) {
		return NotFound("programme")
	}
	return internal("audit export", err)
}
