package server

import (
	"bytes"

	"github.com/deputyhq/deputy/core"
)

type factorJSON struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Status  string `json:"status"`
}

type factorsResponse struct {
	Factors []factorJSON `json:"factors,omitempty"`
}

// factorType is the Weavr SCAChallengeType of a channel.
func factorType(ch core.Channel) string {
	if ch == core.ChannelBiometric {
		return "PUSH"
	}
	return "OTP"
}

// authFactorsGet implements Weavr authFactorsGet.
func (s *Server) authFactorsGet(r *request) (reply, error) {
	fs, err := s.svc.Factors(r.Context(), r.caller)
	if err != nil {
		return reply{}, err
	}
	return ok(factorsResponse{Factors: factorsJSON(fs)})
}

// factorsJSON converts factors to Weavr's SCAFactor list (nil when empty).
func factorsJSON(fs []*core.Factor) []factorJSON {
	var out []factorJSON
	for _, f := range fs {
		out = append(out, factorJSON{Type: factorType(f.Channel), Channel: string(f.Channel), Status: string(f.Status)})
	}
	return out
}

// otpChannel checks the {channel} path parameter of the OTP operations.
func otpChannel(r *request) error {
	if ch := r.PathValue("channel"); ch != string(core.ChannelSMS) {
		return core.Invalid("channel", core.ReasonIn, string(core.ChannelSMS))
	}
	return nil
}

type verifyRequest struct {
	VerificationCode string `json:"verificationCode"`
}

// verificationCode decodes and checks a {"verificationCode"} body.
func verificationCode(r *request) (string, error) {
	var in verifyRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return "", err
	}
	var f fields
	if f.required("verificationCode", in.VerificationCode) {
		f.pattern("verificationCode", in.VerificationCode, reNonce)
	}
	return in.VerificationCode, f.err()
}

// enrolOTP implements Weavr enrolDeviceUsingOtpStepOne.
func (s *Server) enrolOTP(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	if err := s.svc.EnrolSMS(answering(r, noResult), r.caller); err != nil {
		return reply{}, err
	}
	return noContent()
}

// enrolOTPVerify implements Weavr enrolDeviceUsingOtpStepTwo.
func (s *Server) enrolOTPVerify(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	code, err := verificationCode(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.VerifyEnrolSMS(answering(r, noResult), r.caller, code); err != nil {
		return reply{}, err
	}
	return noContent()
}

// stepUpOTP implements Weavr stepupSCAChallenge, with Deputy's optional
// body {operation} naming the operation to step up for.
func (s *Server) stepUpOTP(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	op, err := stepUpOperation(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.StepUpSMS(answering(r, noResult), r.caller, op); err != nil {
		return reply{}, err
	}
	return noContent()
}

// maxOperationRef bounds the reference of an operation (core's sealOperation
// of a summary of at most 300 characters).
const maxOperationRef = 2048

// stepUpRequest is the optional body of a step-up (Deputy extension):
// operation is the reference a STEP_UP_REQUIRED answer gave.
type stepUpRequest struct {
	Operation string `json:"operation"`
}

// stepUpOperation reads the operation reference of a step-up SMS request; "" when none.
func stepUpOperation(r *request) (string, error) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return "", nil
	}
	var in stepUpRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return "", err
	}
	var f fields
	f.size("operation", in.Operation, 1, maxOperationRef)
	return in.Operation, f.err()
}

// stepUpOTPVerify implements Weavr stepupSCAVerify.
func (s *Server) stepUpOTPVerify(r *request) (reply, error) {
	if err := otpChannel(r); err != nil {
		return reply{}, err
	}
	code, err := verificationCode(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.svc.VerifyStepUpSMS(answering(r, noResult), r.caller, code); err != nil {
		return reply{}, err
	}
	return noContent()
}
