package client

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
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
