-- Decisions counted per second, service, environment, result and summary:
-- what the metrics read of the decision log (`decision_summaries`). A
-- trigger keeps the counts as decisions are stored, so a reader reads a few
-- rows per second of log instead of every decision. `service` and
-- `environment` are '' for none; `first_id` is the group's smallest decision
-- id, which traces the count back to its records.
CREATE TABLE decision_counts (
    epoch_second INTEGER NOT NULL,
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    first_id    TEXT    NOT NULL,
    PRIMARY KEY (epoch_second, service, environment, result, summary)
) WITHOUT ROWID;

-- Decisions stored before the summary column existed get theirs from their
-- record, as `DecisionRecord::summary` computes it: waived when a violation
-- has a waiver or the decision lists waivers; the guardrails of its
-- violations in order.
UPDATE decisions SET summary = json_object(
    'waived', json(CASE
        WHEN EXISTS (SELECT 1 FROM json_each(record, '$.decision.violations') AS v
                     WHERE v.type = 'object'
                       AND coalesce(json_type(v.value, '$.waiver'), 'null') <> 'null')
          OR coalesce(json_array_length(record, '$.decision.waivers'), 0) > 0
        THEN 'true' ELSE 'false' END),
    'guardrails', json((SELECT json_group_array(json_extract(v.value, '$.guardrail'))
                        FROM json_each(record, '$.decision.violations') AS v
                        WHERE v.type = 'object'
                          AND json_type(v.value, '$.guardrail') = 'text')))
WHERE summary IS NULL AND json_valid(record);

INSERT INTO decision_counts (epoch_second, service, environment, result, summary, count, first_id)
SELECT time / 1000, coalesce(service, ''), coalesce(environment, ''), result,
       coalesce(summary, '{"waived":false,"guardrails":[]}'), count(*), min(id)
FROM decisions
GROUP BY 1, 2, 3, 4, 5;

-- Fires only for rows actually inserted: a decision put again (the first
-- write of an id wins) is not counted twice.
CREATE TRIGGER decisions_counted AFTER INSERT ON decisions
BEGIN
    INSERT INTO decision_counts (epoch_second, service, environment, result, summary, count, first_id)
    VALUES (NEW.time / 1000, coalesce(NEW.service, ''), coalesce(NEW.environment, ''),
            NEW.result, coalesce(NEW.summary, '{"waived":false,"guardrails":[]}'), 1, NEW.id)
    ON CONFLICT (epoch_second, service, environment, result, summary)
    DO UPDATE SET count = count + 1, first_id = min(first_id, excluded.first_id);
END;
