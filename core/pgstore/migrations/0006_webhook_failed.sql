-- Each endpoint's failed deliveries by failure time, for redelivering those
-- that failed since a time (FailedWebhookDeliveries): failed_at is DoneAt in
-- Unix nanoseconds (from 1970 on) while the delivery is FAILED, NULL otherwise.
ALTER TABLE webhook_deliveries ADD COLUMN failed_at bigint;

-- The deliveries that failed already. DoneAt is an RFC 3339 string with up
-- to nine fractional digits, which timestamptz would round to microseconds:
-- the seconds are parsed without the fraction and the fraction's digits
-- added as nanoseconds, exactly as the store writes them. Exact, not rounded
-- up: a caller pages on from a delivery's DoneAt and Seq, and a failed_at
-- past its DoneAt would bring that delivery back on the next page.
UPDATE webhook_deliveries AS d
SET failed_at = CASE WHEN j.done IS NULL THEN 0 ELSE GREATEST(0,
	extract(epoch FROM regexp_replace(j.done, '\.[0-9]+', '')::timestamptz)::bigint * 1000000000
	+ COALESCE(rpad(substring(j.done FROM '\.([0-9]+)'), 9, '0')::bigint, 0)) END
FROM (SELECT seq, convert_from(data, 'UTF8')::jsonb ->> 'State' AS state,
	convert_from(data, 'UTF8')::jsonb ->> 'DoneAt' AS done FROM webhook_deliveries) AS j
WHERE j.seq = d.seq AND j.state = 'FAILED';

CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id, failed_at, seq) WHERE failed_at IS NOT NULL;
