// Package boltstore implements core.Store on a single bbolt file, for operators
// who run `deputy serve` on one machine.
//
// Every record is JSON under a key in a bucket of the versioned tree below;
// reads decode fresh copies, so nothing a caller holds points into the
// memory-mapped file after its transaction ends. Writes go through db.Batch, so
// concurrent Updates share one commit (and one fsync); reads go through db.View.
//
// The bucket tree (schema version 1):
//
//	v1                                   root; its sequence numbers NextID
//	├── version          -> uint64       schema version (big-endian), see migrations.go
//	├── meta/
//	│   └── <key>        -> bytes        Meta / PutMeta
//	├── programmes/
//	│   └── <id>         -> Programme
//	├── programme_keys/
//	│   └── <api key hash> -> id         index
//	├── programme_names/
//	│   └── <name>       -> id           unique index (core.UniqueProgrammeName)
//	├── identities/
//	│   └── <id>         -> Identity
//	├── users/
//	│   └── <id>         -> User
//	├── user_email/
//	│   └── [programmeID, email, userID] -> userID        index
//	├── root_email/
//	│   └── [programmeID, email] -> userID    unique index of root users (core.UniqueRootEmail)
//	├── identity_email/
//	│   └── [identityID, email] -> userID     unique index (core.UniqueIdentityEmail)
//	├── passwords/
//	│   └── <userID>     -> PasswordRecord
//	├── sessions/
//	│   └── <token hash> -> Session
//	├── user_sessions/
//	│   └── [userID, token hash] -> token hash   index
//	├── reset_codes/
//	│   └── <userID>     -> ResetCode
//	├── factors/
//	│   └── [userID, channel] -> Factor
//	├── challenges/
//	│   └── [session token hash, purpose] -> Challenge
//	├── audit/
//	│   └── <programmeID>/               its sequence numbers the programme's events
//	│       └── <seq>    -> AuditEvent   seq is a big-endian uint64
//	├── idempotency/
//	│   └── <key>        -> IdempotencyRecord
//	└── outbox/
//	    └── <programmeID>/               its sequence numbers the programme's messages
//	        └── <seq>    -> Message      seq is a big-endian uint64
//
// A key written [a, b, ...] is a composite key: each part is preceded by its
// length as a uvarint, so no part can run into the next and [a, b] is a prefix
// of exactly the keys [a, b, ...].
//
// A file is upgraded in place when it is opened: the migrations the file has
// not seen yet run, in order, in the opening transaction. A file written by a
// newer build (a higher schema version than this code knows) is refused.
package boltstore
