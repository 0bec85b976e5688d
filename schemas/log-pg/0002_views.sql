-- The central log on PostgreSQL, version 2: the analysts' views of log.db (schemas/log/0002 and
-- 0003) in PostgreSQL's dialect, with the same names, columns and meanings (docs/SCHEMA.md).

CREATE VIEW run_outcomes AS
SELECT r.id AS run_id, r.time, r.kind, r.batch_id, r.context, r.learner, r.module, r.version,
       r.digest, r.alias, r.arm, r.steps, r.halt_confidence, r.latency_ms, r.status,
       (SELECT f.verdict FROM feedback f WHERE f.run_id = r.id AND f.source = 'checker'
        ORDER BY f.time DESC, f.id DESC LIMIT 1) AS checker_verdict,
       (SELECT f.verdict FROM feedback f WHERE f.run_id = r.id AND f.source = 'eval'
        ORDER BY f.time DESC, f.id DESC LIMIT 1) AS eval_verdict,
       (SELECT f.verdict FROM feedback f WHERE f.run_id = r.id AND f.source = 'learner'
        ORDER BY f.time DESC, f.id DESC LIMIT 1) AS learner_verdict,
       (SELECT f.verdict FROM feedback f WHERE f.run_id = r.id AND f.source = 'instructor'
        ORDER BY f.time DESC, f.id DESC LIMIT 1) AS instructor_verdict,
       (SELECT f.verdict FROM feedback f WHERE f.run_id = r.id
        ORDER BY CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 WHEN 'checker' THEN 2
                 ELSE 3 END, f.time DESC, f.id DESC LIMIT 1) AS verdict,
       r.host
FROM runs r;

CREATE VIEW version_summary AS
SELECT module, version, digest,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE verdict = 'correct') AS correct,
       count(*) FILTER (WHERE verdict = 'partial') AS partial,
       count(*) FILTER (WHERE verdict = 'incorrect') AS incorrect,
       (count(*) FILTER (WHERE verdict = 'correct'))::double precision
           / nullif(count(verdict), 0) AS accuracy,
       avg(steps)::double precision AS mean_steps,
       avg(latency_ms) AS mean_latency_ms,
       min(time) AS first_run,
       max(time) AS last_run
FROM run_outcomes
GROUP BY module, version, digest;

CREATE VIEW context_summary AS
SELECT context, arm, module, version,
       count(*) AS runs,
       count(DISTINCT learner) AS learners,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE verdict = 'correct') AS correct,
       count(verdict) AS judged,
       (count(*) FILTER (WHERE verdict = 'correct'))::double precision
           / nullif(count(verdict), 0) AS accuracy,
       avg(steps)::double precision AS mean_steps,
       avg(latency_ms) AS mean_latency_ms
FROM run_outcomes
WHERE context IS NOT NULL
GROUP BY context, arm, module, version;

CREATE VIEW daily_usage AS
SELECT substr(time, 1, 10) AS day, module, version, count(*) AS runs,
       count(DISTINCT learner) AS learners, count(*) FILTER (WHERE status = 'error') AS errors
FROM runs
GROUP BY day, module, version;

CREATE VIEW calibration AS
SELECT module, version,
       least(floor(halt_confidence * 10)::integer, 9) / 10.0 AS confidence_from,
       count(*) AS runs,
       avg(halt_confidence) AS mean_confidence,
       (count(*) FILTER (WHERE verdict = 'correct'))::double precision
           / nullif(count(verdict), 0) AS accuracy
FROM run_outcomes
WHERE halt_confidence IS NOT NULL
GROUP BY module, version, confidence_from;

CREATE VIEW corrections AS
SELECT f.id AS feedback_id, f.time, f.source, f.verdict, f.score, f.comment,
       r.id AS run_id, r.context, r.learner, r.module, r.version, r.task, r.task_params,
       r.input, r.output, f.expected
FROM feedback f JOIN runs r ON r.id = f.run_id
WHERE f.expected IS NOT NULL;

CREATE VIEW run_verdicts AS
SELECT r.id AS run_id, r.time, r.kind, r.context, r.learner, r.module, r.version, r.digest, r.arm,
       r.steps, r.halt_confidence, r.latency_ms, r.status,
       (SELECT CASE WHEN f.expected IS NOT NULL THEN 'expected' ELSE f.source END
        FROM feedback f WHERE f.run_id = r.id
        ORDER BY f.expected IS NULL,
                 CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 WHEN 'checker' THEN 2 ELSE 3 END,
                 f.time DESC, f.id DESC
        LIMIT 1) AS verdict_source,
       (SELECT CASE WHEN f.expected IS NOT NULL THEN coalesce((r.output = f.expected)::integer, 0)
                    ELSE (f.verdict = 'correct')::integer END
        FROM feedback f WHERE f.run_id = r.id
        ORDER BY f.expected IS NULL,
                 CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 WHEN 'checker' THEN 2 ELSE 3 END,
                 f.time DESC, f.id DESC
        LIMIT 1) AS correct,
       r.host
FROM runs r;
