-- Bearing's store, Postgres flavour. Times are milliseconds since the Unix
-- epoch (UTC) in BIGINT columns, as in the SQLite schema, so both backends
-- filter and order identically.

-- Events: `seq` is an increasing identity (ingest serialises on an advisory
-- lock, so `seq` order is commit order and `events_after` cursors never skip);
-- the source id is unique, which is what makes ingest idempotent.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT   NOT NULL CHECK (length(id) > 0),
    kind        TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    service     TEXT,
    environment TEXT,
    time        BIGINT NOT NULL,
    -- The whole canonical event as JSON text (the source of truth when reading).
    payload     TEXT   NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_kind_service_time ON events (kind, service, time);

-- Findings deduplicated by (rule, package, target) with their lifecycle.
CREATE TABLE findings (
    key        TEXT   PRIMARY KEY,
    target     TEXT   NOT NULL,
    service    TEXT,
    finding    TEXT   NOT NULL,
    scanners   TEXT   NOT NULL,
    event_ids  TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    fixed_at   BIGINT
);
CREATE INDEX findings_target ON findings (target);

CREATE TABLE decisions (
    id          TEXT   PRIMARY KEY,
    time        BIGINT NOT NULL,
    service     TEXT,
    environment TEXT,
    result      TEXT   NOT NULL,
    record      TEXT   NOT NULL
);
CREATE INDEX decisions_time ON decisions (time);

CREATE TABLE plans (
    service    TEXT   PRIMARY KEY,
    updated_at BIGINT NOT NULL,
    record     TEXT   NOT NULL
);

CREATE TABLE actions (
    id         TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    service    TEXT,
    status     TEXT   NOT NULL,
    record     TEXT   NOT NULL
);

CREATE TABLE tokens (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    hash       TEXT   NOT NULL UNIQUE,
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
