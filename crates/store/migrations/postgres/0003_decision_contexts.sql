-- A decision's context (the plan and outcomes it read) is shared by every
-- decision made against one snapshot for one service: the log keeps it once,
-- by its digest, and `decisions.context` refers to it. NULL for decisions
-- whose record holds its context itself (those stored before this table).
CREATE TABLE decision_contexts (
    digest TEXT PRIMARY KEY,
    body   TEXT NOT NULL
);
ALTER TABLE decisions ADD COLUMN context TEXT;
