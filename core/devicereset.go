package core

import (
	"context"
	"strings"
)

// ResetUserDevice is what an admin does for a user whose phone is lost or
// stolen (a Deputy extension): the phone stops being a factor. The companion
// device is unlinked (the BIOMETRIC factor becomes INACTIVE and its WebAuthn
// credential is forgotten) and the SMS factor becomes INACTIVE, so the user
// enrols their mobile again, on the new phone, before any step-up. What the
// old phone could still do ends with it, as the revocation policy's
// DEVICE_RESET row says: the user's sessions and pending push challenges, and
// the user is told. It needs i:users:update, the rank rule and a stepped-up
// session; resetting again retires nothing more.
func (s *Service) ResetUserDevice(ctx context.Context, c *Caller, id string) error {
	if err := require(c, PermUsersUpdate); err != nil {
		return err
	}
	var after func()
	err := s.updateAs(ctx, c, func(tx Tx) error {
		after = nil
		device := ""
		u, err := identityUser(tx, c, id)
		if err != nil {
			return err
		}
		if err := requireRank(c, u); err != nil {
			return err
		}
		if err := s.stepUp(tx, c, Operation{Action: "user.device_reset", Target: u.ID, Summary: "Reset the devices of user " + summaryEmail(u.Email)}); err != nil {
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
		if after, err = s.revoke(ctx, tx, revocation{reason: RevokeDeviceReset, user: u, device: device}); err != nil {
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
	after()
	return nil
}
