package core

import (
	"context"
	"strings"
	"time"
)

// ResetUserDevice is what an admin does for a user whose phone is lost or
// stolen (a Deputy extension): the phone stops being a factor. The companion
// device is unlinked (the BIOMETRIC factor becomes INACTIVE and its WebAuthn
// credential is forgotten) and the SMS factor becomes INACTIVE, so the user
// enrols their mobile again, on the new phone, before any step-up. What the
// old phone could still do ends with it: the user's sessions and pending push
// challenges (revokeForDeviceReset). It needs i:users:update, the rank rule
// and a stepped-up session; resetting again retires nothing more.
func (s *Service) ResetUserDevice(ctx context.Context, c *Caller, id string) error {
	if err := require(c, PermUsersUpdate); err != nil {
		return err
	}
	var device string
	err := s.store.Update(ctx, func(tx Tx) error {
		device = ""
		u, err := identityUser(tx, c, id)
		if err != nil {
			return err
		}
		if err := requireRank(c, u); err != nil {
			return err
		}
		if err := RequireStepUp(c); err != nil {
			return err
		}
		factors, err := tx.Factors(u.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		var retired []string
		for _, f := range factors {
			if f.Status == FactorInactive {
				continue
			}
			if f.Channel == ChannelBiometric && f.Status == FactorActive {
				device = f.DeviceID
			}
			retired = append(retired, string(f.Channel))
			if err := retireFactor(tx, f, now); err != nil {
				return err
			}
		}
		if err := s.revokeForDeviceReset(tx, u.ID, now); err != nil {
			return err
		}
		details := map[string]string{"factors": strings.Join(retired, ",")}
		if device != "" {
			details["device"] = device
		}
		if err := s.audit(ctx, tx, u.ProgrammeID, c.User.ID, "user.device_reset", u.ID, details); err != nil {
			return err
		}
		return s.finishIdempotent(ctx, tx, nil)
	})
	if err != nil {
		return internal("reset user device", err)
	}
	if device != "" {
		s.publishPush(ctx, PushEvent{Kind: PushEventUnlinked, UserID: id, DeviceID: device})
	}
	s.pushChanged(ctx, id)
	return nil
}

// revokeForDeviceReset ends what a reset device could still do: every
// session of the user and their pending push challenges. (Issue 12's single
// revocation policy takes this call site over.)
func (s *Service) revokeForDeviceReset(tx Tx, userID string, now time.Time) error {
	if _, err := tx.DeleteUserSessions(userID); err != nil {
		return err
	}
	_, err := s.cancelPushChallenges(tx, userID, now, PushReasonDeviceReset)
	return err
}
