package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// RateLimit allows Requests per Window. Zero Requests means no limit.
// Windows are fixed (spendOne): they start at multiples of Window since the
// Unix epoch, so a caller who spends a budget at the end of one window and
// again at the start of the next passes up to twice Requests in a short
// span. Every limit is chosen so that twice it is still safe.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// RateLimits are the budgets of everything that checks a guess or sends a
// message. Each is counted in the store, per programme, so that replicas share
// the count. "Per address" means per client address, and for IPv6 per /64
// prefix, which one subscriber usually holds whole.
type RateLimits struct {
	// Sign-ins (POST /multi/login_with_password, the push sign-in) per address and per programme.
	LoginPerIP        RateLimit
	LoginPerProgramme RateLimit
	// Password tokenisations per address and per programme.
	TokenisePerIP        RateLimit
	TokenisePerProgramme RateLimit
	// SMS texts (enrolment, step-up, biometric enrolment codes, re-sends
	// included) to one mobile number, and for one user whatever their number.
	SMSPerNumber RateLimit
	SMSPerUser   RateLimit
	// Emails with a code or a link (lost password, email verification,
	// invites) to one address.
	EmailPerAddress RateLimit
	// Notices of changes (password or email changed, lockouts) to one
	// address: a budget of their own, so that nobody can spend the
	// address's EmailPerAddress with lost-password requests to keep the
	// notice of a change from its owner. Alerts to an admin about other
	// users count apart, under the same limit (adminNotices).
	NoticesPerAddress RateLimit
	// Invite validations and consumptions per address, and wrong invite codes
	// per invite. The right code is never refused for its invite's budget, so
	// guessers cannot lock an invitee out.
	InvitePerIP          RateLimit
	InviteWrongPerInvite RateLimit
	// Emailed one-time codes (lost password, email verification) per email
	// address, over a window longer than EmailPerAddress's: each code takes
	// emailCodeAttempts guesses, so this bounds the guesses at an address's
	// six-digit codes, which the email budget alone would let anyone renew
	// window after window.
	EmailCodesPerAddress RateLimit
	// Biometric sign-in prompts per email address. Over it the sign-in gets a
	// decoy challenge like an unknown email's, so that nobody can flood a
	// user's device with prompts (push fatigue) and the answer tells nothing.
	BiometricSignInPerEmail RateLimit
	// Push step-ups and push confirmations per user, whoever asks: each wakes
	// the user's phone and may end in a webhook, so that nobody holding a
	// session can wear the user down with prompts or flood the embedder.
	PushPromptsPerUser RateLimit
	// Access tokens one sign-in exchanges itself for (POST /multi/access_token):
	// each is a stored session, so a stolen token cannot fill the store.
	AccessTokensPerSignIn RateLimit
	// Searches of the users table (GET /multi/users?search=) per user: each
	// reads every user of the identity, so nobody can keep the server busy.
	SearchesPerUser RateLimit
	// Operations of submitted bulks per identity: a submission stores every
	// row at once (up to MaxBulkOperations) in one transaction, so nobody can
	// fill the store, or hold its writer, with bulk after bulk.
	BulkOperationsPerIdentity RateLimit
	// Bulk submissions per identity, refused ones included, counted before
	// the body is decoded: checking every row of a large body costs the
	// server far more than any other request, and a refused one stores
	// nothing, so BulkOperationsPerIdentity alone would not stop a caller
	// posting bodies with one bad row over and over.
	BulkSubmissionsPerIdentity RateLimit
	// Invites an identity's users send, one by one and in bulks: each is an
	// email to an address they chose, so that no identity can use Deputy to
	// mail strangers by the hundred thousand (the per-address budget stops
	// only the flooding of one inbox).
	InvitesPerIdentity RateLimit
	// Email changes an identity's users make, to their own email or another
	// user's, refused ones included: a change to an address another user of
	// the programme signs in with is refused (EMAIL_NOT_UNIQUE), which tells
	// whoever asks that the address has an account, so that no one stepped-up
	// session can ask it of every address.
	EmailChangesPerIdentity RateLimit
}

// DefaultRateLimits returns the limits in force unless Config.RateLimits says
// otherwise: generous enough for busy programmes and people who mistype, tight
// enough to stop guessing from one address and to stop anyone using Deputy to
// flood a phone or an inbox. It returns a fresh value each time, so no caller
// can change another's defaults.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		LoginPerIP:              RateLimit{Requests: 30, Window: time.Minute},
		LoginPerProgramme:       RateLimit{Requests: 60000, Window: time.Minute},
		TokenisePerIP:           RateLimit{Requests: 120, Window: time.Minute},
		TokenisePerProgramme:    RateLimit{Requests: 600000, Window: time.Minute},
		SMSPerNumber:            RateLimit{Requests: 10, Window: time.Hour},
		SMSPerUser:              RateLimit{Requests: 10, Window: time.Hour},
		EmailPerAddress:         RateLimit{Requests: 10, Window: time.Hour},
		NoticesPerAddress:       RateLimit{Requests: 10, Window: time.Hour},
		InvitePerIP:             RateLimit{Requests: 30, Window: 15 * time.Minute},
		InviteWrongPerInvite:    RateLimit{Requests: 10, Window: time.Hour},
		BiometricSignInPerEmail: RateLimit{Requests: 10, Window: time.Hour},
		PushPromptsPerUser:      RateLimit{Requests: 30, Window: time.Hour},
		AccessTokensPerSignIn:   RateLimit{Requests: 60, Window: time.Minute},
		SearchesPerUser:         RateLimit{Requests: 60, Window: time.Minute},
		// Ten bulks of the largest size a day, for the whole identity.
		BulkOperationsPerIdentity: RateLimit{Requests: 10 * MaxBulkOperations, Window: 24 * time.Hour},
		// A file fixed and sent again a few dozen times an hour.
		BulkSubmissionsPerIdentity: RateLimit{Requests: 60, Window: time.Hour},
		// Two bulks of invites of the largest size a day.
		InvitesPerIdentity:      RateLimit{Requests: 2 * MaxBulkOperations, Window: 24 * time.Hour},
		EmailChangesPerIdentity: RateLimit{Requests: 20, Window: 24 * time.Hour},
		// 50 guesses a day window, 100 at most across two windows' boundary
		// (RateLimit): NIST SP 800-63B 5.2.2 allows 100 failures.
		EmailCodesPerAddress: RateLimit{Requests: 10, Window: 24 * time.Hour},
	}
}

// validate refuses a limit that counts requests in a window shorter than a
// second: fixed windows that short would reset at once.
func (rl RateLimits) validate() error {
	for name, l := range map[string]RateLimit{
		"LoginPerIP": rl.LoginPerIP, "LoginPerProgramme": rl.LoginPerProgramme,
		"TokenisePerIP": rl.TokenisePerIP, "TokenisePerProgramme": rl.TokenisePerProgramme,
		"SMSPerNumber": rl.SMSPerNumber, "SMSPerUser": rl.SMSPerUser, "EmailPerAddress": rl.EmailPerAddress,
		"NoticesPerAddress": rl.NoticesPerAddress,
		"InvitePerIP":       rl.InvitePerIP, "InviteWrongPerInvite": rl.InviteWrongPerInvite,
		"BiometricSignInPerEmail": rl.BiometricSignInPerEmail, "PushPromptsPerUser": rl.PushPromptsPerUser,
		"AccessTokensPerSignIn": rl.AccessTokensPerSignIn,
		"SearchesPerUser":       rl.SearchesPerUser, "BulkOperationsPerIdentity": rl.BulkOperationsPerIdentity,
		"BulkSubmissionsPerIdentity": rl.BulkSubmissionsPerIdentity,
		"InvitesPerIdentity":         rl.InvitesPerIdentity, "EmailChangesPerIdentity": rl.EmailChangesPerIdentity,
		"EmailCodesPerAddress": rl.EmailCodesPerAddress,
	} {
		if l.Requests > 0 && l.Window < time.Second {
			return fmt.Errorf("rate limit %s: window %v is below one second", name, l.Window)
		}
	}
	return nil
}

// RateAction names what is being limited.
type RateAction string

// Limited actions.
const (
	RateLogin    RateAction = "login"
	RateTokenise RateAction = "tokenise"
)

// CheckRate counts one request of action from clientIP for prog and fails with
// ErrRateLimited (RetryAfter until the window ends) when a limit is exceeded.
func (s *Service) CheckRate(ctx context.Context, action RateAction, prog *Programme, clientIP string) error {
	budgets := s.rateBudgets(action, prog, clientIP)
	if !anyLimit(budgets) {
		return nil // no commit for nothing to count
	}
	err := internal("rate limit", s.store.Update(ctx, func(tx Tx) error { return s.spend(tx, budgets...) }))
	if action == RateLogin && errors.Is(err, ErrRateLimited) {
		s.observeSignIn(ctx, err)
	}
	return err
}

// budget is one counter a request spends from: what is counted for whom, and
// the limit on it; a request spends one, or its cost when that is more.
type budget struct {
	key   string
	limit RateLimit
	cost  int
}

// newBudget is the budget of what (an action) for whom (a target or an
// address) in prog, under limit.
func newBudget(what, prog, whom string, limit RateLimit) budget {
	return budget{key: what + "|" + prog + "|" + whom, limit: limit}
}

// rateBudgets returns the budgets in force on action for a request from
// clientIP to prog: per address first, then per programme.
func (s *Service) rateBudgets(action RateAction, prog *Programme, clientIP string) []budget {
	perIP, perProg := s.cfg.RateLimits.LoginPerIP, s.cfg.RateLimits.LoginPerProgramme
	if action == RateTokenise {
		perIP, perProg = s.cfg.RateLimits.TokenisePerIP, s.cfg.RateLimits.TokenisePerProgramme
	}
	return []budget{
		newBudget(string(action), prog.ID, addressKey(clientIP), perIP),
		newBudget(string(action), prog.ID, "programme", perProg),
	}
}

// addressKey is what per-address budgets count a client address under: an
// IPv4 address itself, an IPv6 address's /64 prefix (one subscriber's link
// gets a whole /64, so counting single addresses would let it rotate through
// 2^64 of them). Anything unparsable is counted as it is.
func addressKey(clientIP string) string {
	a, err := netip.ParseAddr(clientIP)
	if err != nil {
		return "ip:" + clientIP
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return "ip:" + a.String()
	}
	return "ip:" + netip.PrefixFrom(a, 64).Masked().String()
}

// anyLimit reports whether one of budgets has a limit.
func anyLimit(budgets []budget) bool {
	for _, b := range budgets {
		if b.limit.Requests > 0 {
			return true
		}
	}
	return false
}

// spend increments the counters of budgets in tx, in order, and fails with
// the rate-limit error of the first one exceeded. Budgets without a limit are
// skipped. The caller returns that error from its transaction, so a refused
// call is not counted and leaves nothing behind: in particular, one address
// hammering away does not use up a whole programme's budget.
func (s *Service) spend(tx Tx, budgets ...budget) error {
	now := s.clock.Now()
	var inForce []RateLimit
	for _, b := range budgets {
		if b.limit.Requests > 0 {
			inForce = append(inForce, b.limit)
		}
	}
	for _, b := range budgets {
		if b.limit.Requests <= 0 {
			continue
		}
		n, end, err := spendOne(tx, b, now)
		if err != nil {
			return err
		}
		if n > b.limit.Requests {
			return &Error{Class: ErrRateLimited, Limit: b.limit.Requests, Limits: inForce, RetryAfter: end.Sub(now)}
		}
	}
	return nil
}

// spendOne adds b's cost to its counter of the window now falls in, and
// returns the count after it and the window's end. It does not compare the
// count with b's limit (spend does).
func spendOne(tx Tx, b budget, now time.Time) (n int, end time.Time, err error) {
	start := now.Truncate(b.limit.Window)
	end = start.Add(b.limit.Window)
	key := b.key + "|" + strconv.FormatInt(start.Unix(), 10)
	if b.cost <= 1 {
		n, err = tx.IncrementCounter(key, end, now)
		return n, end, err
	}
	if n, _, err = tx.Counter(key, now); err != nil {
		return 0, end, err
	}
	return n + b.cost, end, tx.SetCounter(key, n+b.cost, end)
}
