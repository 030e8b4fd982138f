-- Where `bearing sync` stopped reading an outside source, per source,
-- repository (or other scope) and resource: the ETag of the listing's first
-- page (sent back as `If-None-Match`; a 304 means nothing changed) and the
-- time from which the next sync reads again (epoch milliseconds).
CREATE TABLE sync_cursors (
    source     TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    etag       TEXT,
    since      BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, scope, resource)
);
