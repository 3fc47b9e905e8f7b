package webhook_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/webhook"
)

// TestSenderRefusesLoopbackWhenItDials: an endpoint that does not allow
// private addresses never reaches a loopback receiver, whichever spelling of
// the address the URL uses (a name, an IPv4-mapped IPv6 address, the
// decimal, octal and short forms that inet_aton reads); and a receiver's
// redirect is not followed.
func TestSenderRefusesLoopbackWhenItDials(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Location", "http://127.0.0.1/")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	s := webhook.NewSender(2*time.Second, "deputy-test")
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1"} {
		r := s.Send(t.Context(), &core.WebhookRequest{URL: "http://" + host + ":" + port + "/x", Body: []byte("{}")})
		assert.Error(t, r.Err, host)
	}
	assert.Zero(t, hits.Load(), "no request reached the loopback receiver")

	r := s.Send(t.Context(), &core.WebhookRequest{URL: srv.URL, Body: []byte("{}"), AllowPrivate: true})
	require.Error(t, r.Err)
	assert.Equal(t, http.StatusFound, r.Status)
	assert.EqualValues(t, 1, hits.Load(), "the redirect was not followed")
}
