package server

import "github.com/deputyhq/deputy/core"

type pushTokenRequest struct {
	DeviceID string `json:"deviceId"`
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

// pushToken checks a push token registration: the device id's format, and
// the token's platform and shape by core's rules (core.PushToken.Canonical).
func (f *fields) pushToken(in *pushTokenRequest) core.PushToken {
	if f.required("deviceId", in.DeviceID) {
		f.pattern("deviceId", in.DeviceID, reDeviceID)
	}
	t := core.PushToken{Platform: core.PushPlatform(in.Platform), Token: in.Token}
	platform, token := f.required("platform", in.Platform), f.required("token", in.Token)
	if platform && token {
		_, err := t.Canonical()
		f.check(err)
	}
	return t
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
	t := f.pushToken(&in)
	if err := f.err(); err != nil {
		return reply{}, err
	}
	if err := s.svc.RegisterPushToken(r.Context(), r.caller, in.DeviceID, t); err != nil {
		return reply{}, err
	}
	return noContent()
}
