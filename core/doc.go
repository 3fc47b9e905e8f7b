// Package core is Deputy's domain: programmes (tenants), identities and their
// root users, authorised users, passwords, sessions, one-time codes, the
// biometric (WebAuthn) factor and push challenges (biometric.go; push.go the
// shared parts, push_stepup.go the requesting session, push_device.go the
// companion device, push_login.go biometric sign-in), confirmation challenges
// over the embedder's resources (confirm.go), operation-bound step-up
// (stepupscope.go) and the audit log. It owns the interfaces it needs from the outside world: the Store
// (see store.go), the message senders and the Clock. It never imports net/http,
// a UI toolkit or a database driver; storage implementations live in
// subpackages (boltstore) and must pass the contract suite in storetest.
//
// Every state change runs in one Store.Update together with its audit event.
// Messages (email, SMS) are sent only after the change has committed.
package core
