-- The sandbox outbox is read per user (Message.UserID), not per address: a
-- user who gave themselves another's number or address must not read the
-- messages sent for that other user (core's outboxReaders). Messages stored
-- before have no user: only the secret api key reads them.
ALTER TABLE outbox ADD COLUMN user_id text NOT NULL DEFAULT '';
ALTER TABLE outbox DROP COLUMN recipient;
CREATE INDEX outbox_user ON outbox (programme_id, user_id, seq);
