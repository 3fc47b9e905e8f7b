package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func streamOf(s string) *PushStream {
	body := io.NopCloser(strings.NewReader(s))
	return &PushStream{body: body, r: bufio.NewReader(body)}
}

// TestPushStreamParsing reads the Server-Sent Events framing (WHATWG HTML
// §9.2.6): comments and unknown fields are skipped, data lines are joined,
// CRLF line ends are accepted, and an event cut short is an error.
func TestPushStreamParsing(t *testing.T) {
	ps := streamOf("retry: 3000\n\n: a comment\n" +
		"event: challenge\r\ndata: {\"id\":\"7\",\"kind\":\"STEP_UP\",\"summary\":\"Pay Bob\",\"choices\":[12,47,83],\"createdAt\":1000,\"expiresAt\":301000}\r\n\r\n" +
		"event: resolved\nid: 7\ndata: {\"id\":\"7\",\n" + "data: \"state\":\"APPROVED\",\"summary\":\"Pay Bob\"}\n\n" +
		"event: unlinked\ndata: {\"deviceId\":\"phone-1\"}\n\n" +
		"event: heartbeat\ndata: {\"at\":5}\n\n" +
		"event: resolved\ndata: {\"id\":")
	e, err := ps.Next()
	if err != nil || e.Type != EventChallenge || e.Challenge.ID != "7" || e.Challenge.Summary != "Pay Bob" || len(e.Challenge.Choices) != 3 || e.Challenge.ExpiresAt.UnixMilli() != 301000 {
		t.Fatalf("first event = %+v, %v; want the challenge", e, err)
	}
	e, err = ps.Next()
	if err != nil || e.Type != EventResolved || *e.Resolved != (PushStatus{ID: "7", State: PushApproved, Summary: "Pay Bob"}) {
		t.Fatalf("second event = %+v, %v; want resolved APPROVED (two data lines)", e, err)
	}
	e, err = ps.Next()
	if err != nil || e.Type != EventUnlinked || e.DeviceID != "phone-1" {
		t.Fatalf("third event = %+v, %v; want unlinked", e, err)
	}
	e, err = ps.Next()
	if err != nil || e.Type != EventHeartbeat || string(e.Data) != `{"at":5}` {
		t.Fatalf("fourth event = %+v, %v; want heartbeat", e, err)
	}
	if _, err := ps.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut event: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := streamOf("").Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("an empty stream: %v, want io.EOF", err)
	}
}

// FuzzPushStream feeds the event reader arbitrary streams, the companion's
// trust boundary: it must never panic nor loop, and every event it returns
// has a type.
func FuzzPushStream(f *testing.F) {
	f.Add("event: challenge\ndata: {\"id\":\"1\",\"choices\":[1,2,3]}\n\n")
	f.Add("event: resolved\ndata: {\"id\":\"1\",\"state\":\"APPROVED\"}\n\n")
	f.Add("event: unlinked\ndata: {}\n\n: c\nretry: x\n\n")
	f.Add("data: x\n\n")
	f.Add("event: challenge\ndata: [\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps := streamOf(s)
		for range len(s) + 2 {
			e, err := ps.Next()
			if err != nil {
				return
			}
			if e.Type == "" {
				t.Fatalf("an event without a type from %q", s)
			}
		}
		t.Fatalf("more events than bytes in %q", s)
	})
}

// endless is a stream that never sends a line end, counting what was read.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= 64<<20 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = 'x'
	}
	e.read += len(p)
	return len(p), nil
}

// TestPushStreamBoundsLines: a line is refused once it is longer than any
// event could be. Only data lines were bounded, after each was read whole,
// so a hostile server (or whatever answers at its address) could send an
// endless comment or event name and the companion kept it all in memory.
func TestPushStreamBoundsLines(t *testing.T) {
	for name, prefix := range map[string]string{"comment": ": ", "event name": "event: ", "data": "data: ", "unknown field": "x"} {
		src := &endless{}
		ps := &PushStream{body: io.NopCloser(src), r: bufio.NewReader(io.MultiReader(strings.NewReader(prefix), src))}
		_, err := ps.Next()
		if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			t.Errorf("%s: an endless line: %v, want a line-too-long error", name, err)
		}
		if src.read > 1<<20 {
			t.Errorf("%s: read %d bytes of one line, want at most 1 MiB", name, src.read)
		}
	}
	long := ": " + strings.Repeat("x", maxEventBytes+64) + "\nevent: heartbeat\ndata: {}\n\n"
	if e, err := streamOf(long).Next(); err == nil {
		t.Errorf("a comment longer than an event: got %+v, want an error", e)
	}
}

// fakeTimer is an idleTimer that fires when the test says, if armed; armed
// tells the test each time a read starts waiting.
type fakeTimer struct {
	mu    sync.Mutex
	on    bool
	f     func()
	armed chan struct{}
}

func newFakeTimer() *fakeTimer { return &fakeTimer{armed: make(chan struct{}, 16)} }

func (t *fakeTimer) start(_ time.Duration, f func()) idleTimer {
	t.f, t.on = f, true
	return t
}

func (t *fakeTimer) Reset(time.Duration) bool {
	t.mu.Lock()
	was := t.on
	t.on = true
	t.mu.Unlock()
	t.armed <- struct{}{}
	return was
}

func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

// fire runs the timer's function as time.AfterFunc would once its time
// passed, and reports whether it was armed to.
func (t *fakeTimer) fire() bool {
	t.mu.Lock()
	on := t.on
	t.on = false
	t.mu.Unlock()
	if on {
		t.f()
	}
	return on
}

// TestPushStreamEndsWhenSilent: a stream with an idle time ends with
// ErrPushStreamIdle once a read has waited that long (a peer or middlebox
// that stopped passing it on, which TCP may not notice for many minutes);
// the time counts only while a read waits, so a caller slow to read the
// next event is not taken for a silent server.
func TestPushStreamEndsWhenSilent(t *testing.T) {
	pr, pw := io.Pipe()
	timer := newFakeTimer()
	ps := &PushStream{body: pr, r: bufio.NewReader(pr)}
	ps.idle = newIdleWatch(time.Minute, pr, timer.start)
	defer ps.Close()
	go func() {
		for range 2 {
			_, _ = io.WriteString(pw, "event: heartbeat\ndata: {\"at\":1}\n\n")
		}
	}() // then silence, the stream open
	for i := range 2 {
		if timer.fire() {
			t.Fatalf("before read %d: the idle time counted while nobody read", i+1)
		}
		if e, err := ps.Next(); err != nil || e.Type != EventHeartbeat {
			t.Fatalf("heartbeat %d: %+v, %v", i+1, e, err)
		}
	}
	next := make(chan error, 1)
	go func() { _, err := ps.Next(); next <- err }()
	for { // the read that waits in vain arms the timer; the heartbeats' reads did too
		<-timer.armed
		if timer.fire() {
			break
		}
	}
	if err := <-next; !errors.Is(err, ErrPushStreamIdle) {
		t.Fatalf("a silent stream: %v, want ErrPushStreamIdle", err)
	}
}

// TestPushStreamIdleFromTheAnswer: the idle time is three of the
// heartbeats the answer announces (PushHeartbeatHeader), and none without
// a usable announcement.
func TestPushStreamIdleFromTheAnswer(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"15000": 45 * time.Second, "40": 120 * time.Millisecond,
		"": 0, "0": 0, "-5": 0, "x": 0, "3600001": 0,
	} {
		h := http.Header{}
		if header != "" {
			h.Set(PushHeartbeatHeader, header)
		}
		if got := streamIdle(h); got != want {
			t.Errorf("%s: %q gives %v, want %v", PushHeartbeatHeader, header, got, want)
		}
	}
	for _, header := range []string{"40", ""} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if header != "" {
				w.Header().Set(PushHeartbeatHeader, header)
			}
			w.WriteHeader(http.StatusOK)
		}))
		cl, err := New(srv.URL, "dpk_test")
		if err != nil {
			t.Fatal(err)
		}
		ps, err := cl.Session("dst_test").PushEvents(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case header != "" && (ps.idle == nil || ps.idle.after != 120*time.Millisecond):
			t.Errorf("an answer announcing 40 ms heartbeats: idle watch %+v, want one of 120 ms", ps.idle)
		case header == "" && ps.idle != nil:
			t.Errorf("an answer announcing nothing: idle watch %+v, want none", ps.idle)
		}
		ps.Close()
		srv.Close()
	}
}
