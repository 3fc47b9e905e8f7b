package client_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/server/client"
)

// TestWebhookVerifierRefusesMalformedHeaders: a missing, empty or
// out-of-range signature or timestamp, a stale timestamp, another event id
// or another body fails verification, without a panic; a wrong secret
// ahead of the right one (a rotation) does not stop it verifying.
func TestWebhookVerifierRefusesMalformedHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := []byte("0123456789abcdef01234567")
	secret := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
	body := []byte(`{"a":1}`)
	good := core.SignWebhook("evt_1", body, now, []byte("dsk_x"), [][]byte{key})
	h := http.Header{}
	for k, v := range good {
		h.Set(k, v)
	}
	v := client.WebhookVerifier{APIKey: "dsk_x", Secrets: []string{"whsec_AAAA", secret}, Now: func() time.Time { return now }}
	assert.NoError(t, v.Verify(h, body))
	assert.Error(t, v.Verify(h, []byte(`{"a":2}`)))
	for _, mut := range []func(http.Header){
		func(h http.Header) { h.Del("webhook-signature") },
		func(h http.Header) { h.Set("webhook-signature", "v1,") },
		func(h http.Header) { h.Set("webhook-signature", "   ") },
		func(h http.Header) { h.Set("webhook-timestamp", "99999999999999999999") },
		func(h http.Header) { h.Set("webhook-timestamp", "-9223372036854775808") },
		func(h http.Header) { h.Set("published-timestamp", "9223372036854775807") },
		func(h http.Header) {
			h.Set("published-timestamp", strconv.FormatInt(now.Add(-10*time.Minute).UnixMilli(), 10))
		},
		func(h http.Header) {
			h.Set("webhook-timestamp", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
		},
		func(h http.Header) { h.Set("signature-v2", "") },
		func(h http.Header) { h.Set("call-ref", "evt_2") },
		func(h http.Header) { h.Set("webhook-id", "evt_2") },
	} {
		c := h.Clone()
		mut(c)
		assert.Error(t, v.Verify(c, body))
	}
}
