-- Where each sync from an outside source stopped, by name (e.g.
-- `prometheus:checkout/availability`), so a restart resumes there. `position`
-- is the source's own text (for Prometheus: the end of the last interval
-- read, RFC 3339).
CREATE TABLE sync_cursors (
    name       TEXT    PRIMARY KEY,
    position   TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);
