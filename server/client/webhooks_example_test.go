package client_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/deputyhq/deputy/server/client"
)

// ExampleWebhookVerifier checks a webhook Deputy sent to an embedder's
// backend before trusting its body, with both the programme's api key
// (Weavr's signature-v2) and the endpoint's secret (Standard Webhooks).
func ExampleWebhookVerifier() {
	v := client.WebhookVerifier{
		APIKey:  "dsk_example-api-key",
		Secrets: []string{"whsec_c2VjcmV0LXNpZ25pbmcta2V5LTI0Ynl0ZXM="},
		Now:     func() time.Time { return time.UnixMilli(1767225600000) },
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent) // then handle the event, deduplicating by call-ref
	})

	deliver := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/login/watch", strings.NewReader(body))
		req.Header.Set("call-ref", "evt_1")
		req.Header.Set("published-timestamp", "1767225600000")
		req.Header.Set("signature-v2", "+Eyj9wTuZCCuxOvARkEQF5t/824230VzTXlpiqsPPfI=")
		req.Header.Set("webhook-id", "evt_1")
		req.Header.Set("webhook-timestamp", "1767225600")
		req.Header.Set("webhook-signature", "v1,+/FCBSmQeZS0KauUm9r1E6GObgoTsSuP5Qqi0q69SlM=")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code
	}
	body := `{"credential":{"type":"USER","id":"100000002"},"type":"PASSWORD","status":"VERIFIED","publishedTimestamp":"1767225600000"}`
	fmt.Println(deliver(body))
	fmt.Println(deliver(strings.Replace(body, "VERIFIED", "DECLINED", 1))) // tampered
	// Output:
	// 204
	// 401
}
