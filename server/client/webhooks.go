package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook verification errors, matched with errors.Is.
var (
	// ErrWebhookSignature: a signature is missing or does not match.
	ErrWebhookSignature = errors.New("webhook signature does not verify")
	// ErrWebhookTimestamp: the timestamp is missing or too far from now (a replay).
	ErrWebhookTimestamp = errors.New("webhook timestamp outside the tolerance")
)

// WebhookVerifier checks the signatures of a webhook Deputy sent, before its
// body is trusted: Weavr's signature-v2 (base64 HMAC-SHA256 keyed with the
// programme's secret api key over call-ref + body + published-timestamp)
// when APIKey is set, and the Standard Webhooks signature (webhook-signature
// "v1,"+base64 HMAC-SHA256 over webhook-id.webhook-timestamp.body, keyed with
// the endpoint's whsec_ secret) when Secrets are. Verify the raw body, as
// received, before decoding it.
type WebhookVerifier struct {
	// APIKey is the programme's secret api key (Weavr's signature-v2).
	APIKey string
	// Secrets are the endpoint's signing secrets (whsec_...): during a
	// rotation, the new one and the old one.
	Secrets []string
	// Tolerance is how far a timestamp may be from now (default 5 minutes).
	Tolerance time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verify checks every signature the verifier has keys for; it needs at least one.
func (v WebhookVerifier) Verify(h http.Header, body []byte) error {
	if v.APIKey == "" && len(v.Secrets) == 0 {
		return errors.New("webhook verifier: no api key or secret to verify with")
	}
	if v.APIKey != "" {
		if err := v.verifyWeavr(h, body); err != nil {
			return err
		}
	}
	if len(v.Secrets) > 0 {
		return v.verifyStandard(h, body)
	}
	return nil
}

func (v WebhookVerifier) verifyWeavr(h http.Header, body []byte) error {
	ref, ts, sig := h.Get("call-ref"), h.Get("published-timestamp"), h.Get("signature-v2")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: published-timestamp %q", ErrWebhookTimestamp, ts)
	}
	if err := v.fresh(time.UnixMilli(ms)); err != nil {
		return err
	}
	want := webhookMAC([]byte(v.APIKey), ref, string(body), ts)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return fmt.Errorf("%w: signature-v2", ErrWebhookSignature)
	}
	return nil
}

func (v WebhookVerifier) verifyStandard(h http.Header, body []byte) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q", ErrWebhookTimestamp, ts)
	}
	if err := v.fresh(time.Unix(secs, 0)); err != nil {
		return err
	}
	for _, secret := range v.Secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return fmt.Errorf("webhook verifier: secret is not whsec_ and base64: %w", err)
		}
		want := "v1," + webhookMAC(key, id, ".", ts, ".", string(body))
		for sig := range strings.FieldsSeq(h.Get("webhook-signature")) {
			if hmac.Equal([]byte(sig), []byte(want)) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: webhook-signature", ErrWebhookSignature)
}

func (v WebhookVerifier) fresh(t time.Time) error {
	now, tol := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tol == 0 {
		tol = 5 * time.Minute
	}
	if d := now().Sub(t); d > tol || d < -tol {
		return fmt.Errorf("%w: %v from now", ErrWebhookTimestamp, d.Round(time.Second))
	}
	return nil
}

func webhookMAC(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
