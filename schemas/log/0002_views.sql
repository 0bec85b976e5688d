-- log.db, version 2: views for analysts. docs/SCHEMA.md describes every column.

-- Every run with the verdict of each feedback source (the newest of each) and one final verdict:
-- an instructor's, else an evaluation's expected answer, else the checker's, else the learner's.
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
                 ELSE 3 END, f.time DESC, f.id DESC LIMIT 1) AS verdict
FROM runs r;

-- Per module version: how much it ran and how it fared.
CREATE VIEW version_summary AS
SELECT module, version, digest,
       count(*) AS runs,
       sum(status = 'error') AS errors,
       sum(verdict = 'correct') AS correct,
       sum(verdict = 'partial') AS partial,
       sum(verdict = 'incorrect') AS incorrect,
       CAST(sum(verdict = 'correct') AS REAL) / nullif(sum(verdict IS NOT NULL), 0) AS accuracy,
       avg(steps) AS mean_steps,
       avg(latency_ms) AS mean_latency_ms,
       min(time) AS first_run,
       max(time) AS last_run
FROM run_outcomes
GROUP BY module, version, digest;

-- Per context and arm (main or canary): which version served it, to how many learners, how well.
CREATE VIEW context_summary AS
SELECT context, arm, module, version,
       count(*) AS runs,
       count(DISTINCT learner) AS learners,
       sum(status = 'error') AS errors,
       sum(verdict = 'correct') AS correct,
       sum(verdict IS NOT NULL) AS judged,
       CAST(sum(verdict = 'correct') AS REAL) / nullif(sum(verdict IS NOT NULL), 0) AS accuracy,
       avg(steps) AS mean_steps,
       avg(latency_ms) AS mean_latency_ms
FROM run_outcomes
WHERE context IS NOT NULL
GROUP BY context, arm, module, version;

-- Runs per day (UTC) and module version.
CREATE VIEW daily_usage AS
SELECT substr(time, 1, 10) AS day, module, version, count(*) AS runs,
       count(DISTINCT learner) AS learners, sum(status = 'error') AS errors
FROM runs
GROUP BY day, module, version;

-- Calibration: is the Q head's halt confidence a fair estimate of being right? Runs in tenths of
-- confidence, with the share judged correct.
CREATE VIEW calibration AS
SELECT module, version,
       min(CAST(halt_confidence * 10 AS INTEGER), 9) / 10.0 AS confidence_from,
       count(*) AS runs,
       avg(halt_confidence) AS mean_confidence,
       CAST(sum(verdict = 'correct') AS REAL) / nullif(sum(verdict IS NOT NULL), 0) AS accuracy
FROM run_outcomes
WHERE halt_confidence IS NOT NULL
GROUP BY module, version, confidence_from;

-- Corrections: every expected answer a person or a data set gave, with the run's puzzle and
-- answer; the raw material of a fine-tuning set.
CREATE VIEW corrections AS
SELECT f.id AS feedback_id, f.time, f.source, f.verdict, f.score, f.comment,
       r.id AS run_id, r.context, r.learner, r.module, r.version, r.task, r.task_params,
       r.input, r.output, f.expected
FROM feedback f JOIN runs r ON r.id = f.run_id
WHERE f.expected IS NOT NULL;
