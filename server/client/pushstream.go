package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Event names of the push stream.
const (
	EventChallenge = "challenge" // a challenge awaits the device: PushEvent.Challenge
	EventResolved  = "resolved"  // a challenge ended: PushEvent.Resolved
	EventUnlinked  = "unlinked"  // this device was unlinked; the stream ends
	EventHeartbeat = "heartbeat" // the stream is alive (and keeps the session alive)
)

// PushEvent is one event of a push stream.
type PushEvent struct {
	Type      string         // one of the Event* names
	Challenge *PushChallenge // EventChallenge
	Resolved  *PushStatus    // EventResolved: ID, State and Summary
	DeviceID  string         // EventUnlinked
	Data      json.RawMessage
}

// PushStream reads the events of GET /multi/push/stream (Server-Sent Events).
// Next is not safe for concurrent use; Close may be called from any goroutine
// to end a Next that is waiting.
type PushStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	// idle, when set, ends the stream once nothing has come for
	// pushIdleHeartbeats heartbeats (the server's PushHeartbeatHeader).
	idle *idleWatch
}

// PushHeartbeatHeader is the push stream's answer header that gives, in
// milliseconds, how often the server sends a heartbeat.
const PushHeartbeatHeader = "push-heartbeat-ms"

// pushIdleHeartbeats is how many heartbeats may go missing before a stream
// counts as dead: a peer or middlebox that stopped passing it on, which TCP
// alone may not notice for many minutes.
const pushIdleHeartbeats = 3

// ErrPushStreamIdle: nothing came on a push stream for pushIdleHeartbeats
// of the server's heartbeats; reconnect.
var ErrPushStreamIdle = fmt.Errorf("push stream silent for %d heartbeats", pushIdleHeartbeats)

// idleWatch closes a stream's body when a read waits longer than after.
type idleWatch struct {
	after time.Duration
	timer idleTimer
	fired atomic.Bool
}

// idleTimer is the part of *time.Timer an idleWatch uses.
type idleTimer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// afterFunc starts an idleTimer that runs f once d has passed (time.AfterFunc).
type afterFunc func(d time.Duration, f func()) idleTimer

func realAfterFunc(d time.Duration, f func()) idleTimer { return time.AfterFunc(d, f) }

func newIdleWatch(after time.Duration, body io.Closer, start afterFunc) *idleWatch {
	w := &idleWatch{after: after}
	w.timer = start(after, func() {
		w.fired.Store(true)
		_ = body.Close()
	})
	w.timer.Stop() // counting only while a read waits
	return w
}

// readSlice reads up to a line end as bufio.Reader.ReadSlice does, for no
// longer than the stream's idle time when it has one.
func (p *PushStream) readSlice() ([]byte, error) {
	if p.idle == nil {
		return p.r.ReadSlice('\n')
	}
	p.idle.timer.Reset(p.idle.after)
	part, err := p.r.ReadSlice('\n')
	p.idle.timer.Stop()
	if p.idle.fired.Load() {
		return nil, ErrPushStreamIdle
	}
	return part, err
}

// streamIdle is the idle time a stream's answer announces, 0 for none.
func streamIdle(h http.Header) time.Duration {
	ms, err := strconv.ParseInt(h.Get(PushHeartbeatHeader), 10, 64)
	if err != nil || ms <= 0 || ms > int64(time.Hour/time.Millisecond) {
		return 0
	}
	return pushIdleHeartbeats * time.Duration(ms) * time.Millisecond
}

// maxEventBytes bounds one event's data.
const maxEventBytes = 64 << 10

// maxLineBytes bounds one line of the stream, whatever its field: a data
// line of the largest event and its "data: " prefix. The server's lines are
// far shorter; a longer one is a hostile or broken peer, and reading it whole
// would hold an unbounded line in memory.
const maxLineBytes = maxEventBytes + 64

// PushEvents opens the session's push stream. With a deviceID it is the
// companion's stream (challenges for the device, and EventUnlinked when the
// device is replaced or removed; a device that is already unlinked gets
// [ErrConflict] CHANNEL_NOT_REGISTERED); without one it carries the outcome of
// the challenges this session requested. The stream has no overall timeout:
// cancel ctx or Close it to stop.
func (s *Session) PushEvents(ctx context.Context, deviceID string) (*PushStream, error) {
	const op = "open push stream"
	c := s.c
	u := *c.base
	u.Path = c.base.Path + "/multi/push/stream"
	u.RawPath = ""
	if deviceID != "" {
		u.RawQuery = url.Values{"deviceId": {deviceID}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("api-key", c.key)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if s.deviceSecret != "" {
		req.Header.Set(DeviceSecretHeader, s.deviceSecret)
	}
	hc := *c.http
	hc.Timeout = 0 // a stream lasts as long as ctx
	res, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
		return nil, fmt.Errorf("%s: %w", op, fromResponse(res, data, time.Now()))
	}
	p := &PushStream{body: res.Body, r: bufio.NewReader(res.Body)}
	if idle := streamIdle(res.Header); idle > 0 {
		p.idle = newIdleWatch(idle, res.Body, realAfterFunc)
	}
	return p, nil
}

// Close ends the stream.
func (p *PushStream) Close() error {
	if p.idle != nil {
		p.idle.timer.Stop()
	}
	return p.body.Close()
}

// Next returns the next event, skipping comments and fields it does not use.
// At the end of the stream it returns io.EOF.
func (p *PushStream) Next() (PushEvent, error) {
	var (
		name string
		data bytes.Buffer
	)
	for {
		line, err := p.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return PushEvent{}, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return PushEvent{}, io.ErrUnexpectedEOF
			}
			return PushEvent{}, fmt.Errorf("read push stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if data.Len() == 0 && name == "" {
				continue
			}
			return decodeEvent(name, data.Bytes())
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if data.Len()+len(value) > maxEventBytes {
				return PushEvent{}, errors.New("read push stream: event larger than 64 KiB")
			}
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}

// errLineTooLong: a line of the stream is longer than maxLineBytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLineBytes)

// readLine reads one line, with its line end, reading no more than
// maxLineBytes of it (bufio.Reader.ReadString has no bound).
func (p *PushStream) readLine() (string, error) {
	var line []byte
	for {
		part, err := p.readSlice()
		if len(line)+len(part) > maxLineBytes {
			return "", errLineTooLong
		}
		line = append(line, part...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return string(line), err
		}
	}
}

// decodeEvent builds a PushEvent from an event's name and data.
func decodeEvent(name string, data []byte) (PushEvent, error) {
	if name == "" {
		name = "message"
	}
	e := PushEvent{Type: name, Data: json.RawMessage(bytes.Clone(data))}
	var err error
	switch name {
	case EventChallenge:
		e.Challenge = &PushChallenge{}
		err = json.Unmarshal(data, e.Challenge)
	case EventResolved:
		var r struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			Summary string `json:"summary"`
		}
		err = json.Unmarshal(data, &r)
		e.Resolved = &PushStatus{ID: r.ID, State: r.State, Summary: r.Summary}
	case EventUnlinked:
		var u struct {
			DeviceID string `json:"deviceId"`
		}
		err = json.Unmarshal(data, &u)
		e.DeviceID = u.DeviceID
	}
	if err != nil {
		return PushEvent{}, fmt.Errorf("decode %s event: %w", name, err)
	}
	return e, nil
}
