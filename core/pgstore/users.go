package pgstore

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/deputyhq/deputy/core"
)

func (t *tx) User(id string) (*core.User, error) {
	if data, ok := t.known.user(id); ok {
		return decode[core.User](data, "user "+id)
	}
	return get[core.User](t, "user "+id, `SELECT data FROM users WHERE id = $1`, id)
}

func (t *tx) UsersByEmail(programmeID, email string) ([]*core.User, error) {
	return list[core.User](t, "user", `SELECT data FROM users WHERE programme_id = $1 AND email = $2 ORDER BY id`, programmeID, email)
}

// userColumns are the columns of a user beside its data, in the order of the
// parameters $2 to $10 of InsertUser and UpdateUser ($1 is the id, $11 the data).
func userColumns(u *core.User) []any {
	roles := make([]string, 0, len(u.Roles))
	for _, r := range slices.Compact(slices.Sorted(slices.Values(u.Roles))) {
		roles = append(roles, string(r))
	}
	return []any{ord(u.ID), u.ProgrammeID, u.IdentityID, u.Email, u.HoldsRootEmail(), u.Root, u.Active, u.Tag, roles}
}

// InsertUser inserts u unless its id or an email it must hold alone is
// taken; which one is then read, as the failed insert changed nothing.
func (t *tx) InsertUser(u *core.User) error {
	data, err := encode(u)
	if err != nil {
		return err
	}
	t.known.forgetUser(u.ID)
	n, err := t.exec(`INSERT INTO users (id, ord, programme_id, identity_id, email, holds_root_email, root, active, tag, roles, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		append(append([]any{u.ID}, userColumns(u)...), data)...)
	if err != nil || n > 0 {
		return err
	}
	var exists bool
	if err := t.scan("user", `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, []any{u.ID}, &exists); err != nil {
		return err
	}
	if exists {
		return idTaken("user " + u.ID)
	}
	return t.emailClash(u)
}

// UpdateUser replaces the stored user unless another user holds an email u
// must hold alone; the statement checks that itself, so that the common case
// is one round trip.
func (t *tx) UpdateUser(u *core.User) error {
	data, err := encode(u)
	if err != nil {
		return err
	}
	t.known.forgetUser(u.ID)
	n, err := t.exec(`UPDATE users SET ord = $2, programme_id = $3, identity_id = $4, email = $5, holds_root_email = $6,
			root = $7, active = $8, tag = $9, roles = $10, data = $11
		WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM users o WHERE o.identity_id = $4 AND o.email = $5 AND o.id <> $1)
			AND NOT ($6 AND EXISTS (SELECT 1 FROM users o WHERE o.programme_id = $3 AND o.email = $5 AND o.holds_root_email AND o.id <> $1))`,
		append(append([]any{u.ID}, userColumns(u)...), data)...)
	if err != nil || n > 0 {
		return err
	}
	if _, err := t.User(u.ID); err != nil {
		return err
	}
	return t.emailClash(u)
}

// emailClash returns the unique constraint on emails that another user's
// email breaks for u.
func (t *tx) emailClash(u *core.User) error {
	var root, identity bool
	err := t.scan("user", `SELECT
		EXISTS (SELECT 1 FROM users WHERE programme_id = $1 AND email = $3 AND holds_root_email AND id <> $4),
		EXISTS (SELECT 1 FROM users WHERE identity_id = $2 AND email = $3 AND id <> $4)`,
		[]any{u.ProgrammeID, u.IdentityID, u.Email, u.ID}, &root, &identity)
	switch {
	case err != nil:
		return err
	case root && u.HoldsRootEmail():
		return duplicate(core.UniqueRootEmail)
	case identity:
		return duplicate(core.UniqueIdentityEmail)
	}
	return fmt.Errorf("user %s: not written, yet no other user holds its email", u.ID)
}

// ListUsers counts the identity's authorised users that f selects, then reads
// its page in id order, both through the users_list indexes; a search reads
// them all (searchUsers).
func (t *tx) ListUsers(identityID string, f core.UserFilter) ([]*core.User, int, error) {
	roles := make([]string, len(f.Roles))
	for i, r := range f.Roles {
		roles[i] = string(r)
	}
	const where = `FROM users WHERE identity_id = $1 AND NOT root
		AND ($2::boolean IS NULL OR active = $2)
		AND ($3 = '' OR email = $3)
		AND ($4 = '' OR tag = $4)
		AND (cardinality($5::text[]) = 0 OR roles && $5)`
	if !storable(f.Tag) || !storable(f.Email) {
		// No user holds it, and PostgreSQL refuses it (22021), which
		// would answer a filter from the query string with a 500.
		return nil, 0, nil
	}
	args := []any{identityID, f.Active, f.Email, f.Tag, roles}
	offset, limit := max(f.Offset, 0), max(f.Limit, 0)
	if f.Search != "" {
		return t.searchUsers(where, args, f.Search, offset, limit)
	}
	var total int
	if err := t.scan("users", `SELECT count(*) `+where, args, &total); err != nil {
		return nil, 0, err
	}
	if limit == 0 || offset >= total {
		return nil, total, nil
	}
	us, err := list[core.User](t, "user", `SELECT data `+where+` ORDER BY ord OFFSET $6 LIMIT $7`, append(args, offset, limit)...)
	return us, total, err
}

// storable reports whether a text column can hold s: valid UTF-8 without NUL.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// searchUsers lists the users that where selects and core.MatchesSearch
// finds: it reads every one of them, as no index holds parts of names (and
// MatchesSearch, not SQL, says what matches), and decodes those
// its core.SearchFilter lets through.
func (t *tx) searchUsers(where string, args []any, search string, offset, limit int) ([]*core.User, int, error) {
	all, err := column[[]byte](t, `SELECT data `+where+` ORDER BY ord`, args...)
	if err != nil {
		return nil, 0, err
	}
	var page []*core.User
	total, filter := 0, core.NewSearchFilter(search)
	for _, data := range all {
		if !filter.MayMatch(data) {
			continue
		}
		u, err := decode[core.User](data, "user")
		if err != nil {
			return nil, 0, err
		}
		if !core.MatchesSearch(u, search) {
			continue
		}
		if total >= offset && len(page) < limit {
			page = append(page, u)
		}
		total++
	}
	return page, total, nil
}

func (t *tx) Password(userID string) (*core.PasswordRecord, error) {
	return get[core.PasswordRecord](t, "password of user "+userID, `SELECT data FROM passwords WHERE user_id = $1`, userID)
}

func (t *tx) PutPassword(p *core.PasswordRecord) error {
	return t.put("passwords", "user_id", p.UserID, p)
}

func (t *tx) ResetCode(userID string) (*core.ResetCode, error) {
	return get[core.ResetCode](t, "reset code of user "+userID, `SELECT data FROM reset_codes WHERE user_id = $1`, userID)
}

func (t *tx) PutResetCode(c *core.ResetCode) error {
	return t.put("reset_codes", "user_id", c.UserID, c)
}

func (t *tx) DeleteResetCode(userID string) error {
	return t.delete("reset code of user "+userID, `DELETE FROM reset_codes WHERE user_id = $1`, userID)
}

func (t *tx) Invite(userID string) (*core.Invite, error) {
	return get[core.Invite](t, "invite of user "+userID, `SELECT data FROM invites WHERE user_id = $1`, userID)
}

func (t *tx) PutInvite(i *core.Invite) error {
	return t.put("invites", "user_id", i.UserID, i)
}

func (t *tx) EmailCode(userID string) (*core.EmailCode, error) {
	return get[core.EmailCode](t, "email code of user "+userID, `SELECT data FROM email_codes WHERE user_id = $1`, userID)
}

func (t *tx) PutEmailCode(c *core.EmailCode) error {
	return t.put("email_codes", "user_id", c.UserID, c)
}

func (t *tx) DeleteEmailCode(userID string) error {
	return t.delete("email code of user "+userID, `DELETE FROM email_codes WHERE user_id = $1`, userID)
}

func (t *tx) KYC(userID string) (*core.KYC, error) {
	return get[core.KYC](t, "KYC of user "+userID, `SELECT data FROM kyc WHERE user_id = $1`, userID)
}

// KYCByReference finds a case by its reference; an empty reference is never
// stored (NULL), so it finds nothing.
func (t *tx) KYCByReference(ref string) (*core.KYC, error) {
	return get[core.KYC](t, "KYC reference "+ref, `SELECT data FROM kyc WHERE reference = $1`, nullString(ref))
}

// PutKYC writes the user's case; a reference another user's case holds fails
// with core.UniqueKYCReference.
func (t *tx) PutKYC(k *core.KYC) error {
	var taken bool
	if err := t.scan("KYC", `SELECT EXISTS (SELECT 1 FROM kyc WHERE reference = $1 AND user_id <> $2)`,
		[]any{nullString(k.Reference), k.UserID}, &taken); err != nil {
		return err
	}
	if taken {
		return duplicate(core.UniqueKYCReference)
	}
	data, err := encode(k)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO kyc (user_id, reference, data) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET reference = excluded.reference, data = excluded.data`,
		k.UserID, nullString(k.Reference), data)
	return err
}

func (t *tx) DeleteKYC(userID string) error {
	return t.delete("KYC of user "+userID, `DELETE FROM kyc WHERE user_id = $1`, userID)
}

// put inserts or replaces the record v under key in a table whose key column
// is keyColumn and whose only other column is data, queued (tx.queue): the
// key is all that is unique, and a conflict there replaces the row. table
// and keyColumn are names from this package, never input.
func (t *tx) put(table, keyColumn string, key, v any) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	t.queue(`INSERT INTO `+table+` (`+keyColumn+`, data) VALUES ($1, $2)
		ON CONFLICT (`+keyColumn+`) DO UPDATE SET data = excluded.data`, key, data)
	return nil
}

// delete runs a DELETE that must remove a row, or else fails with
// ErrRecordNotFound naming what.
func (t *tx) delete(what, sql string, args ...any) error {
	n, err := t.exec(sql, args...)
	if err == nil && n == 0 {
		return notFound(what)
	}
	return err
}
