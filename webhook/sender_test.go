package webhook_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/webhook"
)

// raw is a receiver that answers every request with the bytes of answer.
func raw(t *testing.T, answer string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString(answer)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSenderBoundsWhatAReceiverSays: what a receiver answers is the
// attempt's error text, which each delivery's log keeps in the database, ten
// attempts a delivery; a receiver (hostile, or taken over) must not make it
// large (a redirect's Location, a garbage status line), nor make the sender
// hold megabytes of headers for each delivery in flight.
func TestSenderBoundsWhatAReceiverSays(t *testing.T) {
	s := webhook.NewSender(5*time.Second, "deputy-test")
	big := strings.Repeat("A", 60<<10)
	for name, answer := range map[string]string{
		"redirect":     "HTTP/1.1 302 Found\r\nLocation: https://x.example/" + big + "\r\nContent-Length: 0\r\n\r\n",
		"status line":  "HTTP/1.1 " + big + "\r\n\r\n",
		"header line":  "HTTP/1.1 200 OK\r\n" + big + "\r\n\r\n",
		"huge headers": "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 2000) + "Content-Length: 0\r\n\r\n",
	} {
		r := s.Send(t.Context(), &core.WebhookRequest{URL: raw(t, answer), Body: []byte("{}"), AllowPrivate: true})
		require.Error(t, r.Err, name)
		assert.LessOrEqual(t, len(r.Err.Error()), 1024, "%s: the error text is bounded", name)
	}
}

// TestSenderReadsLittleOfAnEndlessAnswer: a receiver that answers 2xx and
// then streams without end, or stalls in the middle of its body (slow
// loris), costs at most the timeout.
func TestSenderReadsLittleOfAnEndlessAnswer(t *testing.T) {
	for name, stall := range map[string]bool{"endless": false, "stalled": true} {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			for r.Context().Err() == nil {
				if _, err := w.Write([]byte(strings.Repeat("z", 1024))); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				if stall {
					select {
					case <-r.Context().Done():
					case <-release:
					}
					return
				}
			}
		}))
		// The answer's status line must come within the timeout, which a
		// loaded race run's pause can overrun at a few hundred ms.
		s := webhook.NewSender(time.Second, "deputy-test")
		start := time.Now()
		r := s.Send(t.Context(), &core.WebhookRequest{URL: srv.URL, Body: []byte("{}"), AllowPrivate: true})
		assert.Less(t, time.Since(start), 3*time.Second, name)
		assert.Equal(t, http.StatusOK, r.Status, name)
		close(release)
		srv.Close()
	}
}

// TestSenderRetryAfterBeyondRange: a receiver asking to be left alone for
// longer than a time.Duration holds (Retry-After in seconds beyond 2^63 ns,
// or beyond an int64) is asked to wait as long as can be said, which core
// caps at a day; it must not wrap to a negative or a tiny wait, which
// retried it after the schedule's 5 seconds, or after 290 ms.
func TestSenderRetryAfterBeyondRange(t *testing.T) {
	s := webhook.NewSender(5*time.Second, "deputy-test")
	for _, v := range []string{"9223372037", "10000000000", "18446744074", "99999999999999999999"} {
		url := raw(t, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: "+v+"\r\nContent-Length: 0\r\n\r\n")
		r := s.Send(t.Context(), &core.WebhookRequest{URL: url, Body: []byte("{}"), AllowPrivate: true})
		assert.Equal(t, http.StatusTooManyRequests, r.Status, v)
		assert.GreaterOrEqual(t, r.RetryAfter, 24*time.Hour, "Retry-After: %s", v)
	}
	url := raw(t, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n")
	assert.Equal(t, 2*time.Minute, s.Send(t.Context(), &core.WebhookRequest{URL: url, Body: []byte("{}"), AllowPrivate: true}).RetryAfter)
}

// TestSenderErrorTextIsPrintable: the attempt's error text, which
// `deputy programme webhooks deliveries` prints in its table, quotes what a
// receiver sent; a receiver (hostile, or taken over) must not reach the
// operator's terminal with an escape, nor forge a row of the table with a
// newline. crypto/x509 checks the host name before the chain and names the
// certificate's DNS names raw, so a self-signed certificate will do.
func TestSenderErrorTextIsPrintable(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"\x1b]0;owned\x07", "x\n5  evt_forged  login  DELIVERED  1  204  -"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	s := webhook.NewSender(5*time.Second, "deputy-test")
	url := "https://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	r := s.Send(t.Context(), &core.WebhookRequest{URL: url, Body: []byte("{}"), AllowPrivate: true})
	require.Error(t, r.Err)
	assert.Contains(t, r.Err.Error(), "x509", "the certificate's names are in the text")
	assert.False(t, strings.ContainsFunc(r.Err.Error(), func(c rune) bool { return !unicode.IsPrint(c) }), "%q", r.Err)
}
