package core

import "slices"

// Permission is one of Weavr's x-permissions of an operation.
type Permission string

// Permissions Deputy enforces.
const (
	PermUsersCreate     Permission = "i:users:create"
	PermUsersList       Permission = "i:users:list"
	PermUsersGet        Permission = "i:users:get"
	PermUsersGetOwn     Permission = "i:users:get:own"
	PermUsersUpdate     Permission = "i:users:update"
	PermUsersUpdateOwn  Permission = "i:users:update:own"
	PermUsersActivate   Permission = "i:users:activate"
	PermUsersDeactivate Permission = "i:users:deactivate"
	PermUsersInvite     Permission = "i:users:send_invite"
	PermRolesList       Permission = "i:roles:list"
	PermIdentityGet     Permission = "i:identity:get" // i:corporates:get or i:consumers:get
	// PermRolesAdmin is Deputy's own: only ADMIN (and a user holding every
	// permission) holds it, so by the rank rule only they act on admins or
	// grant the role, and no mix of other roles reaches ADMIN's rank.
	PermRolesAdmin Permission = "deputy:roles:admin"
)

// Permissions of the embedder's operations on money and cards (Weavr
// x-permissions). Deputy does not serve these operations, but the embedder
// grants them by role, so the rank rule weighs them: an access manager, who
// lacks them, must not take over a funds or cards manager's account nor
// grant those roles.
const (
	PermAccountsCreate  Permission = "i:managed_accounts:create"
	PermTransfersCreate Permission = "i:transfers:create"
	PermSendsCreate     Permission = "i:sends:create"
	PermOWTCreate       Permission = "i:owt:create"
	PermCardsCreate     Permission = "i:managed_cards:create"
	PermCardsUpdate     Permission = "i:managed_cards:update"
	PermCardsBlock      Permission = "i:managed_cards:block"
)

// CodeRankInsufficient refuses acting on a user who holds a permission the
// caller lacks, or leaving a user with one (the rank rule, requireRank).
const CodeRankInsufficient = "RANK_INSUFFICIENT"

// RoleInfo describes a predefined role (Weavr rolesGet).
type RoleInfo struct {
	ID          string
	Role        Role
	Description string
	Permissions []Permission
}

var (
	usersPerms = []Permission{PermUsersCreate, PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdate, PermUsersUpdateOwn,
		PermUsersActivate, PermUsersDeactivate, PermUsersInvite, PermRolesList, PermIdentityGet}
	seeUsersPerms = []Permission{PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdateOwn, PermRolesList, PermIdentityGet}
	fundsPerms    = []Permission{PermAccountsCreate, PermTransfersCreate, PermSendsCreate, PermOWTCreate}
	cardsPerms    = []Permission{PermCardsCreate, PermCardsUpdate, PermCardsBlock}
	// bulksPerms go to every managing role: each operation of a bulk still
	// needs its own permissions when it runs.
	bulksPerms = []Permission{PermBulksList, PermBulksGet, PermBulksGetOperations, PermBulksExecute, PermBulksPauseResume, PermBulksCancel}
)

// roleTable is the predefined role table: which role holds which permissions.
// A root user holds every permission, and so does a user without roles
// (Weavr's rule). It is unexported so that no importer can change who may do
// what; Roles hands out copies.
var roleTable = []RoleInfo{
	{ID: "1", Role: RoleAdmin, Description: "Manages the identity: users, roles and every operation.",
		Permissions: slices.Concat(usersPerms, fundsPerms, cardsPerms, bulksPerms, []Permission{PermRolesAdmin})},
	{ID: "2", Role: RoleAccessManagement, Description: "Creates, invites and manages users who hold no permission it lacks: not admins, funds or cards managers.",
		Permissions: slices.Concat(usersPerms, bulksPerms)},
	{ID: "3", Role: RoleFundsManagement, Description: "Manages accounts and transfers; sees the identity's users.",
		Permissions: slices.Concat(seeUsersPerms, fundsPerms, bulksPerms)},
	{ID: "4", Role: RoleCardsManagement, Description: "Manages cards; sees the identity's users.",
		Permissions: slices.Concat(seeUsersPerms, cardsPerms, bulksPerms)},
	{ID: "5", Role: RoleCardAssignee, Description: "Uses the cards assigned to them; sees and updates only themselves.",
		Permissions: []Permission{PermUsersGetOwn, PermUsersUpdateOwn}},
}

// Roles returns a copy of the predefined role table (Weavr rolesGet).
func Roles() []RoleInfo {
	out := slices.Clone(roleTable)
	for i := range out {
		out[i].Permissions = slices.Clone(out[i].Permissions)
	}
	return out
}

// allPermissions is every permission some role grants: what a root user and
// a user without roles hold.
var allPermissions = func() []Permission {
	var out []Permission
	for _, ri := range roleTable {
		for _, p := range ri.Permissions {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}()

// ValidRole reports whether r is a predefined role.
func ValidRole(r Role) bool {
	return slices.ContainsFunc(roleTable, func(ri RoleInfo) bool { return ri.Role == r })
}

// holds reports whether u holds permission p: a root user and a user without
// roles hold every permission (Weavr's rule), anyone else what their roles grant.
func holds(u *User, p Permission) bool {
	if u.Root || len(u.Roles) == 0 {
		return true
	}
	for _, ri := range roleTable {
		if slices.Contains(u.Roles, ri.Role) && slices.Contains(ri.Permissions, p) {
			return true
		}
	}
	return false
}

// Can reports whether the caller's user holds permission p.
func (c *Caller) Can(p Permission) bool { return holds(c.User, p) }

// require fails with INSUFFICIENT_PERMISSIONS unless the caller holds p.
func require(c *Caller, p Permission) error {
	if !c.Can(p) {
		return Forbidden(CodeInsufficientPermissions)
	}
	return nil
}

// requireRank is the rank rule, the one place deciding whether the caller may
// act on another user of their identity: change their email, mobile, roles or
// active state, re-send their invite or reset their device. The caller must
// hold every permission target holds; otherwise RANK_INSUFFICIENT. A role
// change asks twice, with the target's old roles and with the new ones (and a
// new user's roles are asked once), so that no role climbs over its grantor.
// Root users reach it only through /corporates or /consumers (identityUser
// hides them), where their sign-in is theirs alone (requireOwnSignIn).
func requireRank(c *Caller, target *User) error {
	if !holdsAllOf(c.User, target) {
		return &Error{Class: ErrPermissionDenied, Code: CodeRankInsufficient,
			Message: "the user holds permissions you do not hold"}
	}
	return nil
}

// requireOwnSignIn is the rank rule's one exception: a root user's sign-in
// (email and mobile) is changed by that user alone. The identity's owner
// ranks above its admins, who hold every permission as the owner does, and an
// admin who could move the owner's email or mobile to their own would take
// the account over with a password reset or its step-up codes.
func requireOwnSignIn(c *Caller, target *User) error {
	if target.Root && target.ID != c.User.ID {
		return &Error{Class: ErrPermissionDenied, Code: CodeRankInsufficient,
			Message: "only the root user changes their own email or mobile"}
	}
	return nil
}

// holdsAllOf reports whether u holds every permission that of holds.
func holdsAllOf(u, of *User) bool {
	return !slices.ContainsFunc(allPermissions, func(p Permission) bool { return holds(of, p) && !holds(u, p) })
}
