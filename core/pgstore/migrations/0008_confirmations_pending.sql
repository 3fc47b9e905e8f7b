-- Confirmations still pending, by expiry, for the sweep that reports those
-- that expired unanswered (ConfirmationsExpiredPending): pending_until is
-- ExpiresAt in Unix nanoseconds while State is PENDING, else NULL.
ALTER TABLE confirmations ADD COLUMN pending_until bigint;

-- The confirmations pending already, their ExpiresAt parsed as 0007 parses
-- IssuedAt.
UPDATE confirmations AS c
SET pending_until = GREATEST(0,
	extract(epoch FROM regexp_replace(j.expires, '\.[0-9]+', '')::timestamptz)::bigint * 1000000000
	+ COALESCE(rpad(substring(j.expires FROM '\.([0-9]+)'), 9, '0')::bigint, 0))
FROM (SELECT id, convert_from(data, 'UTF8')::jsonb ->> 'ExpiresAt' AS expires,
	convert_from(data, 'UTF8')::jsonb ->> 'State' AS state FROM confirmations) AS j
WHERE j.id = c.id AND j.state = 'PENDING';

CREATE INDEX confirmations_pending ON confirmations (pending_until) WHERE pending_until IS NOT NULL;
