package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/deputyhq/deputy/core"
)

// Delivery of push challenges without a third-party push service: the
// companion holds GET /multi/push/stream open (Server-Sent Events, WHATWG HTML
// §9.2) or, where a long-lived response cannot get through, long-polls GET
// /multi/push/pending?wait=N. A change committed in this process wakes them at
// once (core's push hub); they also re-read the store every PushPoll, so a
// change made by another replica arrives within that interval.

// maxPendingWait bounds the long poll, in seconds, below common proxy idle timeouts.
const maxPendingWait = 25

// handleStream registers a streaming endpoint that needs a user's token.
// Unlike handle, it hands the endpoint the ResponseWriter.
func (s *Server) handleStream(pattern string, ep func(http.ResponseWriter, *request)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, hr *http.Request) {
		r := &request{Request: hr}
		if err := s.authenticate(r, userToken); err != nil {
			s.writeError(w, hr, err)
			return
		}
		ep(w, r)
	})
}

// Unwrap lets http.ResponseController reach the connection's deadlines
// through the request logger.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// sseWriter writes Server-Sent Events, each within limit: a client that
// stops reading fills the connection's buffers, and its stream then ends
// rather than wait in a write for ever, holding one of the user's push
// subscriptions past the session's end.
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	limit time.Duration
}

// event writes one event with a JSON data line and flushes it.
func (e *sseWriter) event(name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return e.write("event: %s\ndata: %s\n\n", name, b)
}

// write writes and flushes a part of the stream, within e.limit when the
// writer reaches its connection (a wrapper that cannot leaves it unbounded,
// as before such limits).
func (e *sseWriter) write(format string, args ...any) error {
	if err := e.rc.SetWriteDeadline(time.Now().Add(e.limit)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprintf(e.w, format, args...); err != nil {
		return err
	}
	return e.rc.Flush()
}

type pushResolvedJSON struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Summary string `json:"summary"`
}

type pushUnlinkedJSON struct {
	DeviceID string `json:"deviceId"`
}

type pushHeartbeatJSON struct {
	At int64 `json:"at"`
}

// streamState remembers where one stream stands.
type streamState struct {
	device  string          // the stream's device id; "" for a requester's stream
	session []byte          // the stream's session
	cursor  string          // the newest challenge looked at; "" before the first look
	watch   map[string]bool // pending challenges whose outcome the client is owed
}

// look reads what changed since the last look.
func (st *streamState) look(ctx context.Context, svc *core.Service, c *core.Caller) (*core.PushChanges, error) {
	watched := make([]string, 0, len(st.watch))
	for id := range st.watch {
		watched = append(watched, id)
	}
	ch, err := svc.PushChanges(ctx, c, st.device, st.cursor, watched)
	if err != nil {
		return nil, err
	}
	st.cursor = ch.Cursor
	return ch, nil
}

// emit sends what changed: new pending challenges to a device, and the
// outcome of those the device was shown or the stream's session requested,
// including one created and ended between two looks.
func (st *streamState) emit(e *sseWriter, ch *core.PushChanges) error {
	for _, c := range ch.New {
		mine := bytes.Equal(c.SessionHash, st.session)
		switch {
		case st.watch[c.ID]:
		case c.State == core.PushPending && st.device != "":
			st.watch[c.ID] = true
			if err := e.event(string(core.PushEventChallenge), pushChallengeOut(c)); err != nil {
				return err
			}
		case c.State == core.PushPending && mine:
			st.watch[c.ID] = true
		case mine:
			if err := e.event(string(core.PushEventResolved), pushResolvedJSON{ID: c.ID, State: string(c.State), Summary: c.Summary}); err != nil {
				return err
			}
		}
	}
	for _, c := range ch.Watched {
		if c.State == core.PushPending || !st.watch[c.ID] {
			continue
		}
		delete(st.watch, c.ID)
		if err := e.event(string(core.PushEventResolved), pushResolvedJSON{ID: c.ID, State: string(c.State), Summary: c.Summary}); err != nil {
			return err
		}
	}
	return nil
}

// pushStream serves GET /multi/push/stream (Deputy extension). With
// ?deviceId=, it is the companion's stream: `challenge` events for pending
// challenges, `resolved` when one it was shown ends, and `unlinked` (then the
// end of the stream) when the device is no longer the linked one. Every stream
// gets `resolved` for the challenges its own session requested that were
// pending when it opened or were created since, so a requesting client can
// follow the outcome here instead of polling. Each look at the store reads
// only what changed (core.Service.PushChanges). A
// `heartbeat` event every PushHeartbeat also keeps the companion's session
// alive (its stream is how it is reached: recheck); a requester's stream
// does not keep its session alive. The stream ends when the session does,
// idling out included, or the api key it was opened with.
func (s *Server) pushStream(w http.ResponseWriter, r *request) {
	ctx := r.Context()
	device, err := deviceParam(r)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	c := r.caller
	st := &streamState{device: device, session: c.Session.TokenHash, watch: map[string]bool{}}
	first, err := st.look(ctx, s.svc, c)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	if !first.Linked {
		s.writeError(w, r.Request, core.Conflict(core.CodeChannelNotRegistered))
		return
	}
	if !first.Speaks {
		s.writeError(w, r.Request, core.ErrDeviceSecretRequired)
		return
	}
	// Subscribed once the stream is known to speak for the device, which
	// then replaces the device's older stream; what changed since the first
	// look is looked at once the stream is open (lookNow).
	sub, err := s.svc.SubscribePush(c.User.ID, device)
	if err != nil {
		s.writeError(w, r.Request, err)
		return
	}
	defer sub.Close()
	if device != "" {
		defer s.svc.DeviceConnected(c.User.ID)()
	}
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for ordinary requests: lift
	// the read one; each write has two heartbeats' time instead.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	// How often a heartbeat comes, so that a client can tell a silent
	// stream (a peer or middlebox that stopped passing it on) from a quiet one.
	h.Set("push-heartbeat-ms", strconv.FormatInt(s.svc.PushHeartbeat().Milliseconds(), 10))
	w.WriteHeader(http.StatusOK)
	e := &sseWriter{w: w, rc: rc, limit: 2 * s.svc.PushHeartbeat()}
	// The retry field tells an EventSource how soon to reconnect; flushing it
	// sends the headers, so the client knows the stream is open.
	if err := e.write("retry: %d\n\n", s.svc.PushPoll().Milliseconds()); err != nil {
		return
	}
	if err := st.emit(e, first); err != nil {
		return
	}
	key, token := r.Header.Get("api-key"), bearerToken(r.Request)
	check := recheck(s.svc, device)
	heartbeat := time.NewTicker(s.svc.PushHeartbeat())
	defer heartbeat.Stop()
	poll := time.NewTicker(s.svc.PushPoll())
	defer poll.Stop()
	lookNow := make(chan struct{}, 1)
	lookNow <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done:
			return
		case <-sub.Replaced: // the device opened a newer stream
			return
		case <-heartbeat.C:
			// The key too: a stream outlives any other request, and one
			// opened with a key rotated away since must end like them.
			if _, _, err := check(ctx, key, token); err != nil {
				return // signed out, idle, deactivated, key revoked: the stream ends
			}
			if err := e.event("heartbeat", pushHeartbeatJSON{At: s.svc.Now().UnixMilli()}); err != nil {
				return
			}
			continue
		case <-lookNow:
		case <-sub.C:
		case <-poll.C:
		}
		for more := true; more; { // more: more arrived than one look returns
			ch, err := st.look(ctx, s.svc, c)
			if err != nil {
				return
			}
			// A device unlinked together with its session (an admin's device
			// reset) still hears that it was unlinked.
			if !ch.Linked {
				_ = e.event(string(core.PushEventUnlinked), pushUnlinkedJSON{DeviceID: device})
				return
			}
			// A stream whose session or key has ended, or that may no longer
			// speak for the device, is shown nothing new: not a challenge's
			// summary, not its numbers.
			if !ch.SessionLive || !ch.Speaks {
				return
			}
			if len(ch.New) > 0 {
				if _, _, err := check(ctx, key, token); err != nil {
					return
				}
			}
			if err := st.emit(e, ch); err != nil {
				return
			}
			more = len(ch.New) == core.MaxPushBatch
		}
	}
}

// recheck is how a push stream re-checks its key and session while it
// runs: a companion's stream (device set) records activity, since holding
// it open is how the linked phone stays reachable; any other stream only
// follows the outcome of a challenge and is no activity of the user's, so
// it records none (core.Service.AdmitCall), and a session left with a
// stream open idles out like any other (Weavr: 5 minutes from last
// activity; PSD2 RTS Art. 4(3)(d)).
func recheck(svc *core.Service, device string) func(ctx context.Context, key, token string) (*core.Caller, core.KeyKind, error) {
	if device != "" {
		return svc.AuthenticateCall
	}
	return svc.AdmitCall
}

type pendingResponse struct {
	Challenges []pushChallengeJSON `json:"challenges"`
}

// pushPending serves GET /multi/push/pending (Deputy extension): the
// challenges awaiting the device, at once when there are some, otherwise after
// waiting up to ?wait= seconds for one. With ?deviceId=, a device that was
// unlinked gets 409 CHANNEL_NOT_REGISTERED.
func (s *Server) pushPending(r *request) (reply, error) {
	wait, err := waitParam(r)
	if err != nil {
		return reply{}, err
	}
	device, err := deviceParam(r)
	if err != nil {
		return reply{}, err
	}
	var (
		list         []*core.PushChallenge
		disconnected func() // set once the linked device is seen here
	)
	defer func() {
		if disconnected != nil {
			disconnected()
		}
	}()
	err = s.longPoll(r, wait, func(ctx context.Context) (bool, error) {
		var err error
		if list, err = s.svc.PendingPush(ctx, r.caller, device); err != nil {
			return false, err
		}
		if device != "" && disconnected == nil { // PendingPush checked it is the linked device
			disconnected = s.svc.DeviceConnected(r.caller.User.ID)
		}
		return len(list) > 0, nil
	})
	if errors.Is(err, context.Canceled) {
		list = nil // nobody is listening any more
	} else if err != nil {
		return reply{}, err
	}
	out := pendingResponse{Challenges: make([]pushChallengeJSON, 0, len(list))}
	for _, ch := range list {
		out.Challenges = append(out.Challenges, pushChallengeOut(ch))
	}
	return ok(out)
}

// longPoll calls look at once and then each time the user's push challenges
// may have changed (a change in this process, or every PushPoll for other
// replicas), until look reports an answer or wait seconds have passed, then
// once more. An answer that waited comes only while the request's api key
// and session still hold, as at its start. It returns look's error, or
// ctx's when the client has gone. A poll that waits holds one of the user's
// push subscriptions (core.MaxPushSubscriptions); one that does not, none.
func (s *Server) longPoll(r *request, wait int, look func(context.Context) (bool, error)) error {
	ctx := r.Context()
	if wait == 0 {
		_, err := look(ctx)
		return err
	}
	sub, err := s.svc.SubscribePush(r.caller.User.ID, "")
	if err != nil {
		return err
	}
	defer sub.Close()
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(s.svc.PushPoll())
	defer poll.Stop()
	for waited := false; ; waited = true {
		answered, err := look(ctx)
		if err != nil || answered || wait == 0 {
			if err == nil && waited {
				_, _, err = s.svc.AuthenticateCall(ctx, r.Header.Get("api-key"), bearerToken(r.Request))
			}
			return err
		}
		select {
		case <-sub.C:
		case <-poll.C:
		case <-deadline.C:
			wait = 0 // one last look, then answer
		case <-sub.Done:
			wait = 0
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
