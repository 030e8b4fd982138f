-- Bearing's store, SQLite flavour. Times are milliseconds since the Unix epoch (UTC).

-- Events: the integer primary key is the rowid, so rows are clustered in
-- arrival order (always appended at the end of the b-tree); the source id is
-- a separate unique index, which is what makes ingest idempotent.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL CHECK (length(id) > 0),
    kind        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    service     TEXT,
    environment TEXT,
    time        INTEGER NOT NULL,
    -- The whole canonical event as JSON (the source of truth when reading).
    payload     TEXT    NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_kind_service_time ON events (kind, service, time);

-- Findings deduplicated by (rule, package, target) with their lifecycle.
CREATE TABLE findings (
    key        TEXT    PRIMARY KEY,
    target     TEXT    NOT NULL,
    service    TEXT,
    -- The latest report of the finding (JSON).
    finding    TEXT    NOT NULL,
    -- JSON arrays of strings.
    scanners   TEXT    NOT NULL,
    event_ids  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    fixed_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX findings_target ON findings (target);

-- The guardrail decision log (append-only).
CREATE TABLE decisions (
    id          TEXT    PRIMARY KEY,
    time        INTEGER NOT NULL,
    service     TEXT,
    environment TEXT,
    result      TEXT    NOT NULL,
    record      TEXT    NOT NULL
);
CREATE INDEX decisions_time ON decisions (time);

-- One delivery plan per service.
CREATE TABLE plans (
    service    TEXT    PRIMARY KEY,
    updated_at INTEGER NOT NULL,
    record     TEXT    NOT NULL
);

CREATE TABLE actions (
    id         TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    service    TEXT,
    status     TEXT    NOT NULL,
    record     TEXT    NOT NULL
);

-- API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
