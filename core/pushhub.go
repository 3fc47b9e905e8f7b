package core

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// PushEventKind says what changed for a user's companion.
type PushEventKind string

// Push events, also the event names of the HTTP event stream.
const (
	PushEventChallenge PushEventKind = "challenge" // a push challenge awaits the device
	PushEventResolved  PushEventKind = "resolved"  // a challenge was approved, declined, cancelled or expired
	PushEventUnlinked  PushEventKind = "unlinked"  // a device was unlinked (replaced or removed)
)

// PushEvent is a change a companion should learn about. It carries ids only,
// never the summary of the operation: what a third-party push service relays
// must not reveal what the user is approving.
type PushEvent struct {
	Kind        PushEventKind
	UserID      string
	ChallengeID string // challenge, resolved
	DeviceID    string // unlinked: the device that lost its credential
}

// Data is what a relay may send of e: its kind and challenge id (for a
// challenge or resolved event), never the user, the summary or anything else.
func (e PushEvent) Data() map[string]string {
	d := map[string]string{"kind": string(e.Kind)}
	if e.ChallengeID != "" {
		d["challenge"] = e.ChallengeID
	}
	return d
}

// PushRelay hands push events to a third-party push service (Firebase Cloud
// Messaging, Apple Push Notification service) to wake a companion that holds
// no event stream open (package internal/pushrelay). Core calls Notify in the
// background after the change has committed, for the challenge and resolved
// events of a user whose linked device registered a push token; its error is
// logged and fails nothing, but one wrapping ErrPushTokenRejected makes core
// forget the token. What it sends must carry e.Data() only, ids, never the
// summary; it has PushRelayTimeout.
type PushRelay interface {
	Notify(ctx context.Context, to PushToken, e PushEvent) error
}

// PushBus carries wake-ups between the replicas that share a store: after a
// change for a user commits, Publish tells every replica, whose Listen hands
// the user's id to wake. It carries ids only. The PostgreSQL store is one
// (LISTEN/NOTIFY); a single process on a bbolt file needs none. Streams still
// re-read the store every PushPoll, the truth when a wake-up is lost.
type PushBus interface {
	Publish(ctx context.Context, userID string) error
	// Listen calls ready once it listens, then wake for each wake-up from
	// any replica (this one included), until ctx ends or the connection fails.
	Listen(ctx context.Context, ready func(), wake func(userID string)) error
}

// pushHub wakes the event streams and long polls of a user in this process
// when a change for that user commits. Streams also re-read the store every
// PushPoll, which covers changes made by other replicas.
type pushHub struct {
	mu      sync.Mutex
	subs    map[string]map[*PushSubscription]struct{}
	present map[string]*presence // by user: their linked device's streams and long polls here
	pruneAt int                  // the size of present at which DeviceConnected next prunes it
	done    chan struct{}
	closed  bool
	// presenceWarned is when a failure to share presence was last logged
	// (Unix nanoseconds): once a presenceRefresh, not once per device.
	presenceWarned atomic.Int64
}

// presence is how a user's linked device was last heard of in this process.
type presence struct {
	open  int           // streams and long polls open now
	last  time.Time     // when the last one ended
	share chan struct{} // while open, with Presence: closed to stop sharePresence
}

// DevicePresence shares, between the replicas of one store, when each
// user's linked device was last connected to any of them, so that a replica
// can tell that a device another one holds is reachable. The PostgreSQL
// store is one; a single process on a bbolt file needs none.
type DevicePresence interface {
	// DeviceSeen records that userID's device was connected at t; the
	// latest t recorded wins.
	DeviceSeen(ctx context.Context, userID string, t time.Time) error
	// DeviceLastSeen is the latest t recorded for userID, zero if none.
	DeviceLastSeen(ctx context.Context, userID string) (time.Time, error)
	// ForgetDevicesSeenBefore removes the records whose latest t is before t.
	ForgetDevicesSeenBefore(ctx context.Context, t time.Time) error
}

// presenceRefresh is how often a replica holding a device's stream or long
// poll tells the others it still does: well within ReachGrace, so that the
// device counts as reachable everywhere while it is connected anywhere.
const presenceRefresh = ReachGrace / 3

func newPushHub() *pushHub {
	return &pushHub{subs: map[string]map[*PushSubscription]struct{}{}, present: map[string]*presence{}, done: make(chan struct{})}
}

// presenceKeep is how long a device that went away is remembered: after
// that its last connection is unknown, and it counts as never seen.
const presenceKeep = 24 * time.Hour

// minPruneAt is the smallest size of the presence map that is pruned.
const minPruneAt = 1024

// ReachGrace is how long after its last stream or long poll ended a device
// still counts as reachable: a companion polls again at once, and reopens a
// broken stream within seconds.
const ReachGrace = 30 * time.Second

// Reachability is whether a user's linked device can be told of a push
// challenge now: it holds a stream or long poll open, or held one within
// ReachGrace. LastSeen is when it was last connected (zero: not since this
// server started).
type Reachability struct {
	Reachable bool
	LastSeen  time.Time
}

// DeviceConnected records that the user's linked device opened a stream or
// long poll; call the function it returns when that ends.
func (s *Service) DeviceConnected(userID string) (ended func()) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.present[userID]
	if p == nil {
		if len(h.present) >= max(h.pruneAt, minPruneAt) {
			h.prunePresence(s.clock.Now())
		}
		p = &presence{}
		h.present[userID] = p
	}
	p.open++
	if p.open == 1 && s.send.Presence != nil {
		p.share = make(chan struct{})
		go s.sharePresence(userID, p.share)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			p.open--
			p.last = s.clock.Now()
			if p.open == 0 && p.share != nil {
				close(p.share)
				p.share = nil
			}
		})
	}
}

// sharePresence records in Presence that the user's device is connected
// here, every presenceRefresh until stop is closed, and then when it left.
func (s *Service) sharePresence(userID string, stop <-chan struct{}) {
	t := time.NewTicker(presenceRefresh)
	defer t.Stop()
	for {
		s.recordPresence(userID)
		select {
		case <-stop:
			s.recordPresence(userID)
			return
		case <-s.hub.done:
			return
		case <-t.C:
		}
	}
}

// recordPresence records in Presence that the user's device is here now; a
// failure is logged: the other replicas then count it unreachable sooner.
func (s *Service) recordPresence(userID string) {
	ctx, cancel := context.WithTimeout(context.Background(), presenceRefresh)
	defer cancel()
	if err := s.send.Presence.DeviceSeen(ctx, userID, s.clock.Now()); err != nil {
		s.warnPresence("share device presence", err)
	}
}

// warnPresence logs a failure to share or read presence, at most once a
// presenceRefresh: with the database down every connected device fails.
func (s *Service) warnPresence(msg string, err error) {
	now, last := time.Now().UnixNano(), s.hub.presenceWarned.Load()
	if now-last >= int64(presenceRefresh) && s.hub.presenceWarned.CompareAndSwap(last, now) {
		s.log.Warn(msg, "err", err)
	}
}

// presenceReadTimeout bounds the read of another replica's presence: it
// feeds a hint, which is this replica's view when the read is slow.
const presenceReadTimeout = time.Second

// prunePresence forgets devices gone for longer than presenceKeep, so that
// the map holds the devices of the last day, not every one ever seen; the
// next prune waits until the map has doubled, which keeps its cost constant
// per connection. The caller holds h.mu.
func (h *pushHub) prunePresence(now time.Time) {
	for user, p := range h.present {
		if p.open == 0 && now.Sub(p.last) > presenceKeep {
			delete(h.present, user)
		}
	}
	h.pruneAt = 2 * len(h.present)
}

// DeviceReachability says whether the user's linked device is reachable:
// connected here, or, with Presence, to any replica, now or within
// ReachGrace. When Presence fails or takes longer than presenceReadTimeout,
// the answer is this replica's alone. It may read Presence: call it outside
// any transaction.
func (s *Service) DeviceReachability(ctx context.Context, userID string) Reachability {
	r := s.localReachability(userID)
	if r.Reachable || s.send.Presence == nil {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, presenceReadTimeout)
	defer cancel()
	seen, err := s.send.Presence.DeviceLastSeen(ctx, userID)
	if err != nil {
		s.warnPresence("read device presence", err)
		return r
	}
	if seen.After(r.LastSeen) {
		r.LastSeen = seen
	}
	r.Reachable = s.recentlySeen(r.LastSeen)
	return r
}

// recentlySeen reports whether a device last connected at t counts as
// reachable: within ReachGrace of t (never, for the zero t).
func (s *Service) recentlySeen(t time.Time) bool {
	return !t.IsZero() && s.clock.Now().Sub(t) < ReachGrace
}

// localReachability is DeviceReachability as this process alone sees it.
func (s *Service) localReachability(userID string) Reachability {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.present[userID]
	if p == nil {
		return Reachability{}
	}
	if p.open > 0 {
		return Reachability{Reachable: true, LastSeen: s.clock.Now()}
	}
	return Reachability{Reachable: s.recentlySeen(p.last), LastSeen: p.last}
}

// PushSubscription wakes one stream of a user. Close it when the stream ends.
type PushSubscription struct {
	// C receives (coalesced) when something may have changed for the user.
	C <-chan struct{}
	// Done is closed when the service stops serving push streams (shutdown).
	Done <-chan struct{}
	// Replaced is closed when a newer stream of the same device took this
	// one's place (SubscribePush).
	Replaced <-chan struct{}

	c, replaced  chan struct{}
	hub          *pushHub
	user, device string
}

// MaxPushSubscriptions bounds the push streams and waiting long polls one
// user holds open in this process, but for the linked device's stream: each
// holds a goroutine and re-reads the store every PushPoll, so one user's
// token must not open thousands. A requesting client holds one or two.
const MaxPushSubscriptions = 8

// SubscribePush subscribes a stream or long poll to the changes of a user's
// push challenges and devices. device is "" but for the stream of the linked
// device, once the caller has checked that the stream speaks for it: such a
// stream replaces any older one of the device (whose Replaced closes), as a
// phone whose network dropped opens a new stream long before the server
// learns that the old connection is dead, and it does not count towards
// MaxPushSubscriptions. Any other subscription beyond MaxPushSubscriptions
// of the user's at once is ErrRateLimited, until one is closed.
func (s *Service) SubscribePush(userID, device string) (*PushSubscription, error) {
	h := s.hub
	c, replaced := make(chan struct{}, 1), make(chan struct{})
	sub := &PushSubscription{C: c, Done: h.done, Replaced: replaced, c: c, replaced: replaced, hub: h, user: userID, device: device}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return sub, nil
	}
	others := 0
	for old := range h.subs[userID] {
		switch {
		case device != "" && old.device == device:
			close(old.replaced)
			delete(h.subs[userID], old)
		case old.device == "":
			others++
		}
	}
	if device == "" && others >= MaxPushSubscriptions {
		return nil, &Error{Class: ErrRateLimited, Limit: MaxPushSubscriptions, RetryAfter: s.cfg.PushPoll,
			Message: "too many push streams and long polls open for this user"}
	}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*PushSubscription]struct{}{}
	}
	h.subs[userID][sub] = struct{}{}
	return sub, nil
}

// Close ends the subscription.
func (p *PushSubscription) Close() {
	h := p.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[p.user]; m != nil {
		delete(m, p)
		if len(m) == 0 {
			delete(h.subs, p.user)
		}
	}
}

// StopPush ends every push stream and long poll: their subscriptions' Done
// closes. The server calls it when it shuts down, so that open streams do not
// hold the shutdown up.
func (s *Service) StopPush() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// notifyAll wakes every subscription, so that each stream reads the store
// again (after the bus reconnected, wake-ups may have been missed).
func (h *pushHub) notifyAll() {
	h.mu.Lock()
	users := make([]string, 0, len(h.subs))
	for u := range h.subs {
		users = append(users, u)
	}
	h.mu.Unlock()
	for _, u := range users {
		h.notify(u)
	}
}

// RunPushBus hands the wake-ups of the other replicas (Integrations.Bus) to
// this process's streams until ctx ends, listening again a second after the
// connection fails. Without a bus it returns at once.
func (s *Service) RunPushBus(ctx context.Context) {
	if s.send.Bus == nil {
		return
	}
	for {
		err := s.send.Bus.Listen(ctx, s.hub.notifyAll, s.hub.notify)
		if ctx.Err() != nil {
			return
		}
		s.log.ErrorContext(ctx, "push bus", slog.String("error", errString(err)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// notify wakes every subscription of userID without blocking.
func (h *pushHub) notify(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[userID] {
		select {
		case sub.c <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// publishPush tells the user's streams in this process and the relay, if
// any, about e. It runs after the change has committed. The other replicas
// are told in the background (a round trip to the store): the answer of a
// request that concerns a real user must not take longer than a decoy's.
func (s *Service) publishPush(ctx context.Context, e PushEvent) {
	if e.UserID == "" {
		return
	}
	s.hub.notify(e.UserID)
	if s.send.Bus != nil {
		s.background.RLock()
		go func() {
			defer s.background.RUnlock()
			if err := s.send.Bus.Publish(context.WithoutCancel(ctx), e.UserID); err != nil {
				s.log.ErrorContext(ctx, "push bus", slog.String("user", e.UserID), slog.String("error", err.Error()))
			}
		}()
	}
	s.relay(ctx, e)
}

// PushHeartbeat is how often a push stream sends a heartbeat (Config.PushHeartbeat).
func (s *Service) PushHeartbeat() time.Duration { return s.cfg.PushHeartbeat }

// PushPoll is how often a push stream or long poll re-reads the store (Config.PushPoll).
func (s *Service) PushPoll() time.Duration { return s.cfg.PushPoll }

func errString(err error) string {
	if err == nil {
		return "listening ended"
	}
	return err.Error()
}
