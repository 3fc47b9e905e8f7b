-- When each user's linked device was last connected to any replica (core's
-- DevicePresence): a replica holding its stream or long poll refreshes it
-- every few seconds, so that the others can tell the device is reachable.
-- Nothing else reads it, and a store copy leaves it behind: it is true for
-- seconds only.
CREATE TABLE device_presence (
    user_id text PRIMARY KEY,
    seen_at bigint NOT NULL
);
