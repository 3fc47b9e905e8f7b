-- Confirmations by issue time, for the sweep that deletes old ones
-- (DeleteConfirmationsIssuedBefore): issued_at is IssuedAt in Unix
-- nanoseconds.
ALTER TABLE confirmations ADD COLUMN issued_at bigint;

-- The confirmations issued already, their IssuedAt parsed as 0006 parses
-- DoneAt: the seconds without the fraction, then the fraction's digits as
-- nanoseconds.
UPDATE confirmations AS c
SET issued_at = GREATEST(0,
	extract(epoch FROM regexp_replace(j.issued, '\.[0-9]+', '')::timestamptz)::bigint * 1000000000
	+ COALESCE(rpad(substring(j.issued FROM '\.([0-9]+)'), 9, '0')::bigint, 0))
FROM (SELECT id, convert_from(data, 'UTF8')::jsonb ->> 'IssuedAt' AS issued FROM confirmations) AS j
WHERE j.id = c.id;

ALTER TABLE confirmations ALTER COLUMN issued_at SET NOT NULL;

CREATE INDEX confirmations_issued ON confirmations (issued_at);
