-- Decisions counted per second, service, environment, result and summary:
-- what the metrics read of the decision log (`decision_summaries`). A
-- trigger keeps the counts as decisions are stored, so a reader reads a few
-- rows per second of log instead of every decision. `service` and
-- `environment` are '' for none; `first_id` is the group's smallest decision
-- id, which traces the count back to its records.
CREATE TABLE decision_counts (
    epoch_second BIGINT NOT NULL,
    service     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    summary     TEXT   NOT NULL,
    count       BIGINT NOT NULL,
    first_id    TEXT   NOT NULL,
    PRIMARY KEY (epoch_second, service, environment, result, summary)
);

-- Decisions stored before the summary column existed get theirs from their
-- record, as `DecisionRecord::summary` computes it: waived when a violation
-- has a waiver or the decision lists waivers; the guardrails of its
-- violations in order.
UPDATE decisions AS d SET summary = json_build_object(
    'waived',
        EXISTS (SELECT 1 FROM jsonb_array_elements(s.violations) AS v
                WHERE jsonb_typeof(v) = 'object'
                  AND coalesce(jsonb_typeof(v -> 'waiver'), 'null') <> 'null')
        OR (jsonb_typeof(s.waivers) = 'array' AND jsonb_array_length(s.waivers) > 0) IS TRUE,
    'guardrails',
        coalesce((SELECT json_agg(v ->> 'guardrail' ORDER BY i)
                  FROM jsonb_array_elements(s.violations) WITH ORDINALITY AS e(v, i)
                  WHERE jsonb_typeof(v) = 'object'
                    AND jsonb_typeof(v -> 'guardrail') = 'string'), '[]'::json))::text
FROM (SELECT id,
             CASE WHEN jsonb_typeof(record::jsonb #> '{decision,violations}') = 'array'
                  THEN record::jsonb #> '{decision,violations}' ELSE '[]'::jsonb END AS violations,
             record::jsonb #> '{decision,waivers}' AS waivers
      FROM decisions WHERE summary IS NULL) AS s
WHERE d.id = s.id;

INSERT INTO decision_counts (epoch_second, service, environment, result, summary, count, first_id)
SELECT time / 1000, coalesce(service, ''), coalesce(environment, ''), result,
       coalesce(summary, '{"waived":false,"guardrails":[]}'), count(*), min(id COLLATE "C")
FROM decisions
GROUP BY 1, 2, 3, 4, 5;

-- Once per statement, with the rows it actually inserted (a decision put
-- again, where the first write of an id wins, is not counted twice). Groups
-- are upserted in key order, so that two replicas logging at once take their
-- row locks in the same order.
CREATE FUNCTION decisions_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO decision_counts AS c
        (epoch_second, service, environment, result, summary, count, first_id)
    SELECT time / 1000, coalesce(service, ''), coalesce(environment, ''), result,
           coalesce(summary, '{"waived":false,"guardrails":[]}'), count(*), min(id COLLATE "C")
    FROM stored
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (epoch_second, service, environment, result, summary)
    DO UPDATE SET count = c.count + excluded.count,
                  first_id = least(c.first_id COLLATE "C", excluded.first_id);
    RETURN NULL;
END $$;

CREATE TRIGGER decisions_counted AFTER INSERT ON decisions
    REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_counted();
