-- log.db, version 3: for analysts (docs/SCHEMA.md, "Analysts"). Indexes for the report, the
-- exports, erase and purge; the record of erasures; the view run_verdicts (the best verdict of
-- each run, as `trmx report` counts it).

-- Windows of time (report --since/--until, export --since, purge --older-than). Runs are appended
-- in time order, so the index grows at its end.
CREATE INDEX runs_time ON runs (time);

-- Feedback of a run, covering what the report and the verdict rule read (source, time, id,
-- verdict, expected), so that joining every run with its feedback never touches the feedback
-- table itself. Replaces feedback_run (run_id), its prefix.
DROP INDEX feedback_run;
CREATE INDEX feedback_run ON feedback (run_id, source, time, id, verdict, expected);

-- Corrections only (the data set export, `corrections`): a partial index, small.
CREATE INDEX feedback_expected ON feedback (time) WHERE expected IS NOT NULL;

-- What `trmx erase` and `trmx purge` removed: counts and the rule, never content (an erasure
-- keeps no trace of whom it erased). Append-only.
CREATE TABLE erasures (
	id INTEGER PRIMARY KEY,
	at TEXT NOT NULL,                      -- when (ISO 8601 UTC, ms)
	actor TEXT NOT NULL,                   -- who ($TRMX_ACTOR, else the login name)
	action TEXT NOT NULL CHECK (action IN ('erase', 'purge')),
	criterion TEXT,                        -- purge: 'runs before <time>'; erase: NULL
	runs INTEGER NOT NULL,                 -- runs removed
	feedback INTEGER NOT NULL,             -- feedback rows removed
	module_rows INTEGER NOT NULL,          -- rows removed from module databases
	databases INTEGER NOT NULL             -- module databases that held some
);
CREATE TRIGGER erasures_no_update BEFORE UPDATE ON erasures
BEGIN
	SELECT raise(ABORT, 'erasures is append-only');
END;
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
BEGIN
	SELECT raise(ABORT, 'erasures is append-only');
END;

-- The best verdict of every run (trmx/report.h): an expected answer (the run is correct when its
-- answer is that text exactly; an instructor's before an evaluation's before a learner's, the
-- newest first), else an instructor's verdict, an evaluation's, the checker's, the learner's.
-- `correct` is 1 or 0, NULL when no one judged the run.
CREATE VIEW run_verdicts AS
SELECT r.id AS run_id, r.time, r.kind, r.context, r.learner, r.module, r.version, r.digest, r.arm,
       r.steps, r.halt_confidence, r.latency_ms, r.status,
       (SELECT CASE WHEN f.expected IS NOT NULL THEN 'expected' ELSE f.source END
        FROM feedback f WHERE f.run_id = r.id
        ORDER BY f.expected IS NULL,
                 CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 WHEN 'checker' THEN 2 ELSE 3 END,
                 f.time DESC, f.id DESC
        LIMIT 1) AS verdict_source,
       (SELECT CASE WHEN f.expected IS NOT NULL THEN coalesce(r.output = f.expected, 0)
                    ELSE f.verdict = 'correct' END
        FROM feedback f WHERE f.run_id = r.id
        ORDER BY f.expected IS NULL,
                 CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 WHEN 'checker' THEN 2 ELSE 3 END,
                 f.time DESC, f.id DESC
        LIMIT 1) AS correct
FROM runs r;
