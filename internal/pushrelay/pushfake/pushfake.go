// Package pushfake runs local fakes of the push services Deputy relays to,
// for tests: Firebase Cloud Messaging's HTTP v1 API with Google's OAuth 2.0
// token endpoint, and the Apple Push Notification service's HTTP/2 API. Each
// checks what the real service checks first (the path, the credentials, the
// headers), records what it accepted and answers as the service does,
// including the failures a test asks for.
package pushfake

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Request is one push a fake received.
type Request struct {
	Token  string      // the device token it was addressed to
	Header http.Header // its HTTP headers
	Body   []byte      // its JSON body, as sent
}

// Failure is how a fake answers a push instead of accepting it.
type Failure struct {
	Status int
	Reason string // APNs reason ("Unregistered"), or FCM errorCode ("UNREGISTERED")
}

// recorder keeps the requests a fake accepted and the failures it is told to
// answer with.
type recorder struct {
	mu       sync.Mutex
	requests []Request
	fail     map[string]Failure // by device token
	arrived  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{fail: map[string]Failure{}, arrived: make(chan struct{}, 1)}
}

// record keeps r and returns the failure to answer with, if any.
func (rec *recorder) record(r Request) (Failure, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.requests = append(rec.requests, r)
	select {
	case rec.arrived <- struct{}{}:
	default:
	}
	f, ok := rec.fail[r.Token]
	return f, ok
}

// Fail makes the fake answer every push to token with f.
func (rec *recorder) Fail(token string, f Failure) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.fail[token] = f
}

// Requests returns the pushes received so far, failed ones included.
func (rec *recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.requests...)
}

// Wait returns the pushes received once there are n, failing tb after a
// while without.
func (rec *recorder) Wait(tb testing.TB, n int) []Request {
	tb.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if got := rec.Requests(); len(got) >= n {
			return got
		}
		select {
		case <-rec.arrived:
		case <-deadline.C:
			tb.Fatalf("push fake: %d requests after 10s, want %d", len(rec.Requests()), n)
		}
	}
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
