package core

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// MaxSecurityEventsPage is the most events one SecurityEvents call returns.
const MaxSecurityEventsPage = 100

// SecurityEvent is an audit event about a user, with its id: its place in
// the log, sealed (eventIDs), so that the ids a user sees tell nothing of
// how many events the rest of the programme had between theirs.
type SecurityEvent struct {
	*AuditEvent
	ID      string
	Summary string // what it was, in words (eventSummary)
}

// SecurityEvents lists, newest first, up to limit audit events about one user
// older than the event whose id is before ("": from the newest): sign-ins
// and failures, step-ups, factors and devices, changes of roles, email or
// mobile, lockouts. Users read their own; another user's need the permission
// to update users and the rank rule (requireRank): only those who may manage
// the user. A root user's are their own only, and users of other identities
// do not exist.
func (s *Service) SecurityEvents(ctx context.Context, c *Caller, userID, before string, limit int) ([]SecurityEvent, error) {
	if limit < 1 || limit > MaxSecurityEventsPage {
		return nil, Invalid("limit", ReasonRange, "1", strconv.Itoa(MaxSecurityEventsPage))
	}
	var beforeSeq uint64
	if before != "" {
		var ok bool
		if beforeSeq, ok = s.eventIDs.open(before); !ok {
			return nil, Invalid("before", ReasonIn, "the id of an event")
		}
	}
	var es []*AuditEvent
	err := s.store.View(ctx, func(tx ReadTx) error {
		if userID != c.User.ID {
			// The permission first, as GetUser does: one who may not manage
			// users learns nothing of who belongs to the identity.
			if err := require(c, PermUsersUpdate); err != nil {
				return err
			}
			u, err := identityUser(tx, c, userID)
			if err != nil {
				return err
			}
			if err := requireRank(c, u); err != nil {
				return err
			}
		}
		var err error
		es, err = tx.AuditEventsAbout(c.User.ProgrammeID, userID, beforeSeq, limit)
		return err
	})
	if err != nil {
		return nil, internal("security events", err)
	}
	out := make([]SecurityEvent, len(es))
	for i, e := range es {
		out[i] = SecurityEvent{AuditEvent: e, ID: s.eventIDs.seal(e.Seq), Summary: eventSummary(e)}
	}
	return out, nil
}

// eventSealer makes the ids of security events: an event's log position
// and eight zero bytes, one AES block under a key of the installation's,
// base64url. Equal positions give equal ids, and an id that does not open
// to the zero bytes was not made here.
type eventSealer struct{ block cipher.Block }

func newEventSealer(k keyring) eventSealer {
	block, err := aes.NewCipher(k.hash(purposeEventID, "")[:16])
	if err != nil {
		panic(err) // a 16-byte key always makes a cipher
	}
	return eventSealer{block}
}

func (e eventSealer) seal(seq uint64) string {
	var b [aes.BlockSize]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	e.block.Encrypt(b[:], b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// open returns the log position of an id seal made, and whether it is one.
func (e eventSealer) open(id string) (uint64, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(b) != aes.BlockSize {
		return 0, false
	}
	e.block.Decrypt(b, b)
	if binary.BigEndian.Uint64(b[8:]) != 0 {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(b[:8])
	return seq, seq > 0
}
