package command_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebhookListen: the development receiver refuses what does not verify
// (401, nothing printed), prints the event that does and exits after --count.
func TestWebhookListen(t *testing.T) {
	_, _, err := runCLI("programme", "webhooks", "listen", "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "give --secret or --api-key")

	post, done := startListen(t)

	assert.Equal(t, http.StatusUnauthorized, post("/login/watch", "AAAA"))
	assert.Equal(t, http.StatusNoContent, post("/login/watch", ""))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		fields := strings.SplitN(strings.TrimSpace(r.out), " ", 5)
		require.Len(t, fields, 5, "output: %q", r.out)
		assert.Equal(t, []string{"/login/watch", "evt_1"}, fields[:2])
		assert.Equal(t, listenBody, fields[4])
		assert.Equal(t, 1, strings.Count(r.out, "\n"), "only the verified event is printed")
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not exit after --count 1")
	}
}

// TestWebhookListenPrintsNoForeignLines: the signatures do not cover the
// path, so a delivery replayed to a path with a newline or a terminal escape
// in it verifies; the receiver refuses it rather than print a forged event
// line (the walkthrough reads the output line by line) or raw escapes to the
// operator's terminal, and quotes whatever path it refuses.
func TestWebhookListenPrintsNoForeignLines(t *testing.T) {
	post, done := startListen(t)
	for _, path := range []string{"/login/watch%0A/stepup/watch%20evt_forged%201%20x%20%7B%7D", "/login/watch%1B%5D0;owned%07", "/login/watch%C2%9B31m"} {
		assert.Equal(t, http.StatusBadRequest, post(path, ""), path)
	}
	assert.Equal(t, http.StatusNoContent, post("/login/watch", ""))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		assert.Equal(t, 1, strings.Count(r.out, "\n"), "one event line: %q", r.out)
		assert.True(t, strings.HasPrefix(r.out, "/login/watch evt_1 "), "output: %q", r.out)
		assert.Equal(t, 3, strings.Count(r.errOut, "\n"), "one line per refusal: %q", r.errOut)
		assert.NotContains(t, r.errOut, "\x1b")
		assert.NotContains(t, r.errOut, "\u009b")
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not exit after --count 1")
	}
}

// listenResult is how `programme webhooks listen` ended.
type listenResult struct {
	out, errOut string
	err         error
}

// listenBody is the event startListen's post sends.
const listenBody = `{"type":"PASSWORD","status":"VERIFIED"}`

// startListen runs `programme webhooks listen --count 1` on a free loopback
// address until it listens. post sends listenBody to path there, signed with
// the command's api key (signature-v2) unless sig is given, and answers the
// status; done gets how the command ended.
func startListen(t *testing.T) (post func(path, sig string) int, done <-chan listenResult) {
	t.Helper()
	const apiKey = "dsk_listen-test-key"
	addr, ended := runListen(t, "--api-key", apiKey)
	return func(path, sig string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(listenBody))
		require.NoError(t, err)
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		if sig == "" {
			mac := hmac.New(sha256.New, []byte(apiKey))
			mac.Write([]byte("evt_1" + listenBody + ts))
			sig = base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		req.Header.Set("call-ref", "evt_1")
		req.Header.Set("published-timestamp", ts)
		req.Header.Set("signature-v2", sig)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}, ended
}

// runListen runs `programme webhooks listen` for one event with args, on a
// free loopback address, and returns that address once it listens; ended
// gets how the command ended.
func runListen(t *testing.T, args ...string) (addr string, ended <-chan listenResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = ln.Addr().String()
	require.NoError(t, ln.Close())
	done := make(chan listenResult, 1)
	go func() {
		out, errOut, err := runCLI(append([]string{"programme", "webhooks", "listen", "--addr", addr, "--count", "1"}, args...)...)
		done <- listenResult{out, errOut, err}
	}()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	return addr, done
}

// TestWebhookListenPrintsNoUnsignedFields: with --secret alone only the
// Standard Webhooks signature is checked, which covers webhook-id, its
// timestamp and the body, not call-ref, published-timestamp or signature-v2,
// which the event line prints. A delivery replayed within the tolerance with
// those headers rewritten verifies, so a space in them forges the line's
// fields and a C1 control reaches the operator's terminal; the receiver
// refuses such a delivery, as it refuses such a path.
func TestWebhookListenPrintsNoUnsignedFields(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("listen-test-secret-32-bytes-long"))
	addr, ended := runListen(t, "--secret", secret)
	post := func(header, value string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/login/watch", strings.NewReader(listenBody))
		require.NoError(t, err)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte("listen-test-secret-32-bytes-long"))
		mac.Write([]byte("evt_1." + ts + "." + listenBody))
		req.Header.Set("webhook-id", "evt_1")
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		req.Header.Set("call-ref", "evt_1")
		req.Header.Set("published-timestamp", ts+"000")
		req.Header.Set("signature-v2", "unchecked")
		if header != "" {
			req.Header.Set(header, value)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	for _, forged := range []struct{ header, value string }{
		{"call-ref", "evt_forged 1 x {\"type\":\"FORGED\"}\t"},
		{"published-timestamp", "1\u009b31m"},
		{"signature-v2", "x\xc2\x9d0;owned\xc2\x9c"},
		{"call-ref", "evt_1\x9b31m"}, // CSI of an 8-bit terminal, not UTF-8
	} {
		assert.Equal(t, http.StatusBadRequest, post(forged.header, forged.value), forged.header)
	}
	assert.Equal(t, http.StatusNoContent, post("", ""))
	select {
	case r := <-ended:
		require.NoError(t, r.err)
		assert.Equal(t, 1, strings.Count(r.out, "\n"), "one event line: %q", r.out)
		fields := strings.SplitN(strings.TrimSpace(r.out), " ", 5)
		require.Len(t, fields, 5, "output: %q", r.out)
		assert.Equal(t, []string{"/login/watch", "evt_1"}, fields[:2])
		assert.Equal(t, listenBody, fields[4])
		assert.Equal(t, 4, strings.Count(r.errOut, "\n"), "one line per refusal: %q", r.errOut)
		assert.NotContains(t, r.errOut, "\u009b")
		assert.NotContains(t, r.errOut, "\u009d")
		assert.NotContains(t, r.errOut, "\x9b")
		assert.NotContains(t, r.errOut, "FORGED\"}")
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not exit after --count 1")
	}
}
