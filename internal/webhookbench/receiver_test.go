package webhookbench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReceiversCountPosts: both receivers answer a sender's POSTs on one
// kept-alive connection with 204 and count them, so that a benchmark's
// deliveries are what they say.
func TestReceiversCountPosts(t *testing.T) {
	for kind, start := range map[string]func(testing.TB) *Receiver{"net/http": Start, "minimal": StartMinimal} {
		t.Run(kind, func(t *testing.T) {
			rcv := start(t)
			var conns atomic.Int64
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conns.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
			for i := range 5 {
				res, err := client.Post(rcv.URL+"/0", "application/json", strings.NewReader(strings.Repeat("x", 100*i)))
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				assert.Equal(t, http.StatusNoContent, res.StatusCode)
			}
			assert.EqualValues(t, 5, rcv.Posts(t))
			assert.EqualValues(t, 1, conns.Load(), "one kept-alive connection")
		})
	}
}

// TestMinimalReceiverRefusesWhatItCannotRead: a request it could misread
// (a chunked body) ends the connection uncounted, rather than be answered
// as a delivery.
func TestMinimalReceiverRefusesWhatItCannotRead(t *testing.T) {
	var posts atomic.Int64
	var out bytes.Buffer
	in := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
	err := answerMinimal(bufio.NewReader(strings.NewReader(in)), &out, &posts)
	require.ErrorContains(t, err, "Transfer-Encoding")
	assert.EqualValues(t, 1, posts.Load())
	assert.Equal(t, "HTTP/1.1 204 No Content\r\n\r\n", out.String())
}
