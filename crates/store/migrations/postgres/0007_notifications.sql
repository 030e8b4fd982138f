-- The notification delivery log. `key` is derived from the change notified
-- (kind, subject, new state, version of the change) and the destination;
-- inserting it first claims the notification, so two processes that see the
-- same change send it once. status: pending, sent or failed.
CREATE TABLE notifications (
    key         TEXT    NOT NULL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX notifications_created ON notifications (created_at);
