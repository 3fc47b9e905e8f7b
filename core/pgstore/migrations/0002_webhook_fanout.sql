-- The audit log became the webhooks' outbox (core's webhookfanout.go): each
-- endpoint's record keeps Fanned, the Seq of the last audit event it has been
-- given. Earlier builds queued every event in the change's own transaction,
-- so an endpoint has been given them all: its cursor starts at its
-- programme's audit log size (0 when the programme has no log).
UPDATE webhook_endpoints AS w
SET data = convert_to(jsonb_set(convert_from(w.data, 'UTF8')::jsonb, '{Fanned}',
	to_jsonb(COALESCE((SELECT h.last FROM log_heads AS h WHERE h.programme_id = w.programme_id AND h.log = 'audit'), 0)))::text, 'UTF8');
