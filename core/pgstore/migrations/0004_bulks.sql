-- Schema version 4: bulk processes (core/bulks.go) and their operations.
-- ord sorts bulk ids as they are listed (numerically), as in version 1.

CREATE TABLE bulks (
	id          text PRIMARY KEY,
	identity_id text NOT NULL,
	ord         bytea NOT NULL,
	state       text NOT NULL,
	data        bytea NOT NULL
);
CREATE INDEX bulks_identity ON bulks (identity_id, ord);
CREATE INDEX bulks_running ON bulks (ord) WHERE state = 'RUNNING';

CREATE TABLE bulk_operations (
	bulk_id text NOT NULL,
	seq     integer NOT NULL,
	data    bytea NOT NULL,
	PRIMARY KEY (bulk_id, seq)
);
