package core

import (
	"context"
	"strconv"
)

// MaxSecurityEventsPage is the most events one SecurityEvents call returns.
const MaxSecurityEventsPage = 100

// SecurityEvents lists, newest first, up to limit audit events about one user
// with Seq below before (0: from the newest): sign-ins and failures,
// step-ups, factors and devices, changes of roles, email or mobile, lockouts.
// Users read their own; another user's need the permission to update users
// and the rank rule (requireRank): only those who may manage the user. A
// root user's are their own only, and users of other identities do not exist.
func (s *Service) SecurityEvents(ctx context.Context, c *Caller, userID string, before uint64, limit int) ([]*AuditEvent, error) {
	if limit < 1 || limit > MaxSecurityEventsPage {
		return nil, Invalid("limit", ReasonRange, "1", strconv.Itoa(MaxSecurityEventsPage))
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
		es, err = tx.AuditEventsAbout(c.User.ProgrammeID, userID, before, limit)
		return err
	})
	if err != nil {
		return nil, internal("security events", err)
	}
	return es, nil
}
