package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestPushStreamEndsWhenSilent: a stream whose answer says how often the
// server sends heartbeats ends with ErrPushStreamIdle once nothing has come
// for three of them (a peer or middlebox that stopped passing it on, which
// TCP may not notice for many minutes), and not while events keep coming,
// however slowly the caller reads them. Without the header it waits on.
func TestPushStreamEndsWhenSilent(t *testing.T) {
	const every = 40 * time.Millisecond
	for _, c := range []struct {
		name      string
		header    string
		beats     int // heartbeats sent, one each every, before the stream goes silent
		wantIdle  bool
		slowReads bool
	}{
		{"silent after two heartbeats", "40", 2, true, false},
		{"heartbeats read slowly", "40", 6, true, true},
		{"no header", "", 2, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if c.header != "" {
					w.Header().Set(PushHeartbeatHeader, c.header)
				}
				w.WriteHeader(http.StatusOK)
				for range c.beats {
					_, _ = io.WriteString(w, "event: heartbeat\ndata: {\"at\":1}\n\n")
					w.(http.Flusher).Flush()
					time.Sleep(every)
				}
				<-release // then silence, the connection open
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			cl, err := New(srv.URL, "dpk_test")
			if err != nil {
				t.Fatal(err)
			}
			ps, err := cl.Session("dst_test").PushEvents(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Close()
			for i := range c.beats {
				if c.slowReads {
					time.Sleep(5 * every) // longer than the idle time, spent not reading
				}
				if e, err := ps.Next(); err != nil || e.Type != EventHeartbeat {
					t.Fatalf("heartbeat %d: %+v, %v", i+1, e, err)
				}
			}
			next := make(chan error, 1)
			go func() { _, err := ps.Next(); next <- err }()
			select {
			case err := <-next:
				if !c.wantIdle || !errors.Is(err, ErrPushStreamIdle) {
					t.Fatalf("after the heartbeats: %v, want ErrPushStreamIdle: %v", err, c.wantIdle)
				}
			case <-time.After(2 * time.Second):
				if c.wantIdle {
					t.Fatal("a silent stream did not end")
				}
				ps.Close()
				<-next
			}
		})
	}
}
