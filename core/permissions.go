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
	// PermRolesAdmin lets a user grant or remove the ADMIN role (Deputy's own rule:
	// access managers manage users but cannot create admins).
	PermRolesAdmin Permission = "deputy:roles:admin"
)

// RoleInfo describes a predefined role (Weavr rolesGet).
type RoleInfo struct {
	ID          string
	Role        Role
	Description string
	Permissions []Permission
}

// Roles is the predefined role table: which role holds which permissions.
// A root user holds every permission, and so does a user without roles (Weavr's rule).
var Roles = []RoleInfo{
	{ID: "1", Role: RoleAdmin, Description: "Manages the identity: users, roles and every operation.",
		Permissions: []Permission{PermUsersCreate, PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdate, PermUsersUpdateOwn, PermUsersActivate, PermUsersDeactivate, PermUsersInvite, PermRolesList, PermIdentityGet, PermRolesAdmin}},
	{ID: "2", Role: RoleAccessManagement, Description: "Creates, invites and manages users, but cannot grant or remove the ADMIN role.",
		Permissions: []Permission{PermUsersCreate, PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdate, PermUsersUpdateOwn, PermUsersActivate, PermUsersDeactivate, PermUsersInvite, PermRolesList, PermIdentityGet}},
	{ID: "3", Role: RoleFundsManagement, Description: "Manages accounts and transfers; sees the identity's users.",
		Permissions: []Permission{PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdateOwn, PermRolesList, PermIdentityGet}},
	{ID: "4", Role: RoleCardsManagement, Description: "Manages cards; sees the identity's users.",
		Permissions: []Permission{PermUsersList, PermUsersGet, PermUsersGetOwn, PermUsersUpdateOwn, PermRolesList, PermIdentityGet}},
	{ID: "5", Role: RoleCardAssignee, Description: "Uses the cards assigned to them; sees and updates only themselves.",
		Permissions: []Permission{PermUsersGetOwn, PermUsersUpdateOwn}},
}

// ValidRole reports whether r is a predefined role.
func ValidRole(r Role) bool {
	return slices.ContainsFunc(Roles, func(ri RoleInfo) bool { return ri.Role == r })
}

// Can reports whether the caller's user holds permission p.
func (c *Caller) Can(p Permission) bool {
	u := c.User
	if u.Root || len(u.Roles) == 0 {
		return true
	}
	for _, ri := range Roles {
		if slices.Contains(u.Roles, ri.Role) && slices.Contains(ri.Permissions, p) {
			return true
		}
	}
	return false
}

// require fails with INSUFFICIENT_PERMISSIONS unless the caller holds p.
func require(c *Caller, p Permission) error {
	if !c.Can(p) {
		return Forbidden(CodeInsufficientPermissions)
	}
	return nil
}
