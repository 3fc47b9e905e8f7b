// Package boltstore implements core.Store on a single bbolt file, for operators
// who run `deputy serve` on one machine.
//
// Every record is JSON under a key in a bucket of the versioned tree below;
// reads return fresh copies, so nothing a caller holds points into the
// memory-mapped file after its transaction ends. The records every
// authenticated request reads (programmes, sessions, users, identities,
// factors) are also kept decoded beside the bytes they came from, and a read
// reuses them only while its transaction finds those very bytes (cache.go).
// Writes go through db.Batch, so concurrent Updates share one commit (and one
// fsync); reads go through db.View.
//
// The bucket tree (schema version 12; the buckets marked "2" to "12" came with
// that migration):
//
//	v1                                   root; its sequence numbers NextID
//	├── version          -> uint64       schema version (big-endian), see migrations.go
//	├── meta/
//	│   └── <key>        -> bytes        Meta / PutMeta
//	├── programmes/
//	│   └── <id>         -> Programme
//	├── programme_keys/                                             3 (rebuilt)
//	│   └── <key hash>   -> id           unique index (core.UniqueKeyHash) of api, ui and retired key hashes
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
//	├── user_list/                                                  2
//	│   └── [identityID, active, tag, role] listID -> empty         index of authorised users (userlist.go)
//	├── user_counts/                                                2
//	│   ├── [identityID, active, tag, role] -> uint64               how many user_list keys have that prefix
//	│   └── [identityID, active, tag, "s:"[roles...]] -> uint64     how many users have exactly those roles
//	├── user_list_blocks/                                           2
//	│   └── [identityID, active, tag, role] listID -> uint64        runs of user_list keys and their lengths
//	├── passwords/
//	│   └── <userID>     -> PasswordRecord
//	├── sessions/
//	│   └── <token hash> -> Session
//	├── user_sessions/
//	│   └── [userID, token hash] -> token hash   index
//	├── reset_codes/
//	│   └── <userID>     -> ResetCode
//	├── invites/                                                    2
//	│   └── <userID>     -> Invite
//	├── email_codes/                                                2
//	│   └── <userID>     -> EmailCode
//	├── kyc/                                                        2
//	│   └── <userID>     -> KYC
//	├── kyc_refs/                                                   2
//	│   └── <reference>  -> userID       unique index (core.UniqueKYCReference); empty references are not indexed
//	├── factors/
//	│   └── [userID, channel] -> Factor
//	├── factor_credentials/                                         5
//	│   └── <credential id> -> [userID, channel]   unique index (core.UniqueCredentialID) of WebAuthn credential ids
//	├── challenges/
//	│   └── [session token hash, purpose] -> Challenge
//	├── audit/
//	│   └── <programmeID>/               its sequence numbers the programme's events
//	│       └── <seq>    -> AuditEvent   seq is a big-endian uint64
//	├── audit_hashes/                                               6
//	│   └── <programmeID>/               the Merkle tree of the programme's events (auditlog.go)
//	│       └── <index>  -> hash         tlog storage index, big-endian uint64; 32 bytes
//	├── audit_checkpoints/                                          6
//	│   └── <programmeID>/
//	│       └── <size>   -> AuditCheckpoint   unique per size (core.UniqueAuditCheckpoint)
//	├── audit_subjects/                                             6
//	│   └── <programmeID>/               the programme's events by subject
//	│       └── [subject, 0, seq] -> nothing
//	├── idempotency/
//	│   └── <key>        -> IdempotencyRecord
//	├── password_tokens/                                            3
//	│   └── <token hash> -> PasswordToken   unique key (core.UniquePasswordToken)
//	├── counters/                                                   3
//	│   └── <key>        -> counter         {Count, ExpiresAt} of a rate limit (counters.go)
//	├── push_challenges/                                            4
//	│   └── <id>         -> PushChallenge   push step-ups and biometric sign-ins (push.go)
//	├── user_push_challenges/                                       4
//	│   └── [userID] listID -> id           index of a user's push challenges, in id (creation) order
//	├── user_pending_push/                                          4
//	│   └── [userID] listID -> id           the same for those whose stored state is PENDING
//	├── webauthn_registrations/                                     4
//	│   └── <session token hash> -> WebAuthnRegistration   biometric enrolments between begin and finish
//	├── outbox/
//	│   └── <programmeID>/               its sequence numbers the programme's messages
//	│       └── <seq>    -> Message      seq is a big-endian uint64
//	├── webhook_endpoints/                                          7
//	│   └── <id>         -> WebhookEndpoint
//	├── programme_webhooks/                                         7
//	│   └── [programmeID, id] -> id      index of a programme's endpoints
//	├── webhook_events/                                             7
//	│   └── <id>         -> WebhookEvent the outbox of webhook events (webhooks.go)
//	├── webhook_deliveries/                                         7   its sequence numbers the deliveries
//	│   └── <seq>        -> WebhookDelivery
//	├── webhook_due/                                                7
//	│   └── <nextAt><seq> -> nothing     pending deliveries with a NextAt (Unix ns, big-endian), soonest first
//	├── webhook_queue/                                              7
//	│   └── [endpointID, subject]<seq> -> nothing   pending deliveries per endpoint and subject, in order
//	├── endpoint_deliveries/                                        7
//	│   └── [endpointID]<seq> -> nothing every delivery of an endpoint
//	├── resources/                                                  8
//	│   └── [programmeID, type, id] -> Resource   operations embedders register for confirmation
//	├── confirmations/                                              8
//	│   └── <id>         -> Confirmation confirmation challenges (the id of a push one is its PushChallenge's)
//	├── stepup_grants/                                              10
//	│   └── <session token hash> -> StepUpGrant   what an operation-bound step-up authorises, once
//	├── bulks/                                                     11
//	│   └── <id>         -> Bulk         bulk processes (bulks.go)
//	├── bulk_operations/                                           11
//	│   └── [bulkID]<seq> -> BulkOperation   seq is a big-endian uint64: a bulk's operations in order
//	├── identity_bulks/                                            11
//	│   └── [identityID] listID -> id    index of an identity's bulks, in id (submission) order
//	├── running_bulks/                                             11
//	│   └── listID       -> id           the bulks whose State is RUNNING
//	└── webhook_failed/                                            12
//	    └── [endpointID]<doneAt><seq> -> nothing   failed deliveries per endpoint, by failure time (Unix ns, big-endian)
//
// A key written [a, b, ...] is a composite key: each part is preceded by its
// length as a uvarint, so no part can run into the next and [a, b] is a prefix
// of exactly the keys [a, b, ...].
//
// In the user list index, active is "*", "1" or "0"; tag is "*" or "t:"+tag;
// role is "*" or "r:"+role; listID is a user id in a fixed-width form that
// sorts numerically (0x00 and the id as an 8-byte big-endian number). Each authorised user has a
// user_list key under every prefix it matches, so that a filter with one value
// per dimension reads one prefix in id order; userlist.go explains the counts
// and the blocks, which find a page at any offset without stepping over every
// key before it. Root users are not in the index.
//
// A file is upgraded in place when it is opened: the migrations the file has
// not seen yet run, in order, in the opening transaction. A file written by a
// newer build (a higher schema version than this code knows) is refused.
//
// Export (export.go) reads every bucket of records, and the sequence numbers,
// for `deputy store copy`; the index buckets are left to the target to rebuild.
package boltstore
