package server

import "github.com/deputyhq/deputy/core"

type pushTokenRequest struct {
	DeviceID string `json:"deviceId"`
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

// pushTokenPut stores the push token of the caller's linked device (Deputy
// extension, core.Service.RegisterPushToken), so that a relay to FCM or APNs
// can wake the companion when it holds no event stream open.
func (s *Server) pushTokenPut(r *request) (reply, error) {
	var in pushTokenRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return reply{}, err
	}
	var f fields
	if f.required("deviceId", in.DeviceID) {
		f.pattern("deviceId", in.DeviceID, reDeviceID)
	}
	t := core.PushToken{Platform: core.PushPlatform(in.Platform), Token: in.Token}
	platform, token := f.required("platform", in.Platform), f.required("token", in.Token)
	if platform && token {
		_, err := t.Canonical()
		f.check(err)
	}
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.RegisterPushToken(r.Context(), r.caller, in.DeviceID, t); err != nil {
		return reply{}, err
	}
	return noContent()
}
