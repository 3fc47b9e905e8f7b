-- The sessions' step-up grants (core.StepUpGrant, operation-bound step-up):
-- at most one per session, taken by one DELETE of the row that matches.
CREATE TABLE stepup_grants (
	session_hash bytea PRIMARY KEY,
	operation    bytea NOT NULL,
	expires_at   bigint NOT NULL,
	data         bytea NOT NULL
);
CREATE INDEX stepup_grants_expires_at ON stepup_grants (expires_at);
