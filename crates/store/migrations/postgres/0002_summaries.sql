-- What metrics read of a decision without parsing its record:
-- {"waived": bool, "guardrails": [ids with a violation]}. NULL for decisions
-- stored before this column existed (their record is read instead).
ALTER TABLE decisions ADD COLUMN summary TEXT;

-- Figures computed from the whole store and kept for fast readers, by name
-- (`outcomes`: the guardrails' live outcomes, written by reconcile and by the
-- server's refresh). `cursor` is the event cursor they were computed at.
CREATE TABLE snapshots (
    name        TEXT   PRIMARY KEY,
    computed_at BIGINT NOT NULL,
    cursor      BIGINT NOT NULL,
    body        TEXT   NOT NULL
);
