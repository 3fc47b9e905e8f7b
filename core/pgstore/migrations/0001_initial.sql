-- Schema version 1: one table per kind of record. Each row holds the record as
-- JSON (data, encoded as the bbolt store encodes it) and, as real columns, its
-- key and whatever a unique constraint or a lookup needs. Times that are
-- compared in SQL are Unix nanoseconds (bigint), exact to the nanosecond as
-- the records are. Keys that are listed in order are COLLATE "C": byte order,
-- whatever the database's collation.

CREATE SEQUENCE ids;

CREATE TABLE meta (
	key   text  PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE programmes (
	id   text COLLATE "C" PRIMARY KEY,
	name text NOT NULL CONSTRAINT programmes_name_key UNIQUE,
	data bytea NOT NULL
);

-- Hashes of every programme's api, ui and retired keys.
CREATE TABLE programme_keys (
	hash         bytea PRIMARY KEY,
	programme_id text NOT NULL REFERENCES programmes (id) ON DELETE CASCADE
);
CREATE INDEX programme_keys_programme ON programme_keys (programme_id);

CREATE TABLE identities (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);

-- ord is the id in a form that sorts as ids are listed (numerically).
CREATE TABLE users (
	id               text COLLATE "C" PRIMARY KEY,
	ord              bytea NOT NULL,
	programme_id     text NOT NULL,
	identity_id      text NOT NULL,
	email            text NOT NULL,
	holds_root_email boolean NOT NULL,
	root             boolean NOT NULL,
	active           boolean NOT NULL,
	tag              text NOT NULL,
	roles            text[] NOT NULL,
	data             bytea NOT NULL
);
CREATE UNIQUE INDEX users_identity_email ON users (identity_id, email);
CREATE UNIQUE INDEX users_root_email ON users (programme_id, email) WHERE holds_root_email;
CREATE INDEX users_programme_email ON users (programme_id, email);
CREATE INDEX users_list ON users (identity_id, ord) WHERE NOT root;
CREATE INDEX users_list_tag ON users (identity_id, tag, ord) WHERE NOT root;

CREATE TABLE passwords (
	user_id text PRIMARY KEY,
	data    bytea NOT NULL
);

CREATE TABLE sessions (
	token_hash bytea PRIMARY KEY,
	user_id    text NOT NULL,
	last_seen  bigint NOT NULL,
	data       bytea NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen);

CREATE TABLE reset_codes (
	user_id text PRIMARY KEY,
	data    bytea NOT NULL
);

CREATE TABLE invites (
	user_id text PRIMARY KEY,
	data    bytea NOT NULL
);

CREATE TABLE email_codes (
	user_id text PRIMARY KEY,
	data    bytea NOT NULL
);

-- An empty reference is NULL: not unique, not found.
CREATE TABLE kyc (
	user_id   text PRIMARY KEY,
	reference text CONSTRAINT kyc_reference_key UNIQUE,
	data      bytea NOT NULL
);

-- An empty credential id is NULL.
CREATE TABLE factors (
	user_id       text NOT NULL,
	channel       text COLLATE "C" NOT NULL,
	credential_id bytea CONSTRAINT factors_credential_id_key UNIQUE,
	data          bytea NOT NULL,
	PRIMARY KEY (user_id, channel)
);

-- unreported: pending, and no expiry recorded yet.
CREATE TABLE challenges (
	session_hash bytea NOT NULL,
	purpose      text NOT NULL,
	issued_at    bigint NOT NULL,
	expires_at   bigint NOT NULL,
	unreported   boolean NOT NULL,
	data         bytea NOT NULL,
	PRIMARY KEY (session_hash, purpose)
);
CREATE INDEX challenges_issued_at ON challenges (issued_at);
CREATE INDEX challenges_unreported ON challenges (expires_at) WHERE unreported;

-- The last number handed out by each per-programme log: 'audit' (so also the
-- audit log's size) and 'outbox'.
CREATE TABLE log_heads (
	programme_id text NOT NULL,
	log          text NOT NULL,
	last         bigint NOT NULL,
	PRIMARY KEY (programme_id, log)
);

CREATE TABLE audit_events (
	programme_id text NOT NULL,
	seq          bigint NOT NULL,
	subject      text COLLATE "C" NOT NULL,
	data         bytea NOT NULL,
	PRIMARY KEY (programme_id, seq)
);
CREATE INDEX audit_events_subject ON audit_events (programme_id, subject, seq) WHERE subject <> '';

-- The Merkle tree of each programme's audit log: tlog storage index -> hash.
CREATE TABLE audit_hashes (
	programme_id text NOT NULL,
	idx          bigint NOT NULL,
	hash         bytea NOT NULL,
	PRIMARY KEY (programme_id, idx)
);

CREATE TABLE audit_checkpoints (
	programme_id text NOT NULL,
	size         bigint NOT NULL,
	data         bytea NOT NULL,
	CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (programme_id, size)
);

CREATE TABLE idempotency (
	key        text CONSTRAINT idempotency_pkey PRIMARY KEY,
	expires_at bigint NOT NULL,
	data       bytea NOT NULL
);
CREATE INDEX idempotency_expires_at ON idempotency (expires_at);

CREATE TABLE outbox (
	programme_id text NOT NULL,
	seq          bigint NOT NULL,
	recipient    text NOT NULL,
	data         bytea NOT NULL,
	PRIMARY KEY (programme_id, seq)
);

CREATE TABLE password_tokens (
	token_hash bytea CONSTRAINT password_tokens_pkey PRIMARY KEY,
	expires_at bigint NOT NULL,
	data       bytea NOT NULL
);
CREATE INDEX password_tokens_expires_at ON password_tokens (expires_at);

CREATE TABLE counters (
	key        text PRIMARY KEY,
	count      integer NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX counters_expires_at ON counters (expires_at);

-- A decoy push challenge has no user (NULL) and is in no user's list.
CREATE TABLE push_challenges (
	id         text PRIMARY KEY,
	user_id    text,
	ord        bytea NOT NULL,
	pending    boolean NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	data       bytea NOT NULL
);
CREATE INDEX push_challenges_user ON push_challenges (user_id, ord);
CREATE INDEX push_challenges_pending ON push_challenges (user_id, ord) WHERE pending;
CREATE INDEX push_challenges_expiring ON push_challenges (expires_at) WHERE pending AND user_id IS NOT NULL;
CREATE INDEX push_challenges_created_at ON push_challenges (created_at);

CREATE TABLE webauthn_registrations (
	session_hash bytea PRIMARY KEY,
	expires_at   bigint NOT NULL,
	data         bytea NOT NULL
);
CREATE INDEX webauthn_registrations_expires_at ON webauthn_registrations (expires_at);

CREATE TABLE webhook_endpoints (
	id           text COLLATE "C" PRIMARY KEY,
	programme_id text NOT NULL,
	data         bytea NOT NULL
);
CREATE INDEX webhook_endpoints_programme ON webhook_endpoints (programme_id, id);

CREATE TABLE webhook_events (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);

-- next_at is set for a pending delivery that has a NextAt, NULL otherwise.
CREATE SEQUENCE webhook_delivery_seq;
CREATE TABLE webhook_deliveries (
	seq         bigint PRIMARY KEY,
	endpoint_id text NOT NULL,
	subject     text NOT NULL,
	pending     boolean NOT NULL,
	next_at     bigint,
	data        bytea NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, seq) WHERE next_at IS NOT NULL;
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, subject, seq) WHERE pending;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);

-- Confirmation challenges: the operations embedders register, by programme,
-- type and id, and the challenges that confirm them.
CREATE TABLE resources (
	programme_id text NOT NULL,
	type         text NOT NULL,
	id           text NOT NULL,
	data         bytea NOT NULL,
	PRIMARY KEY (programme_id, type, id)
);

CREATE TABLE confirmations (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);
