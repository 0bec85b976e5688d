-- log.db, version 4: the outbox of xAPI statements for learning record stores (docs/ANALYTICS.md,
-- "Forwarding to an LRS"). Runs and feedback are keyed by text ids that callers choose (a retried
-- run keeps its UUIDv7, which may be older than runs already logged), and their rowids are no key
-- (VACUUM after an erase renumbers them, a deleted last row's rowid is given again), so neither
-- says what is new. A trigger numbers every row as it is inserted instead: one writer at a time,
-- so the numbers grow in commit order and a cursor over them skips nothing.

-- Every run and feedback row in the order they were committed. AUTOINCREMENT: a number is never
-- given twice, even after the newest entries were deleted.
CREATE TABLE xapi_queue (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL CHECK (kind IN ('run', 'feedback')),
	row_id TEXT NOT NULL                   -- runs.id or feedback.id
);
-- An insert that changes nothing (ON CONFLICT DO NOTHING: a retried id) fires no trigger.
CREATE TRIGGER runs_xapi_queue AFTER INSERT ON runs
BEGIN
	INSERT INTO xapi_queue (kind, row_id) VALUES ('run', new.id);
END;
CREATE TRIGGER feedback_xapi_queue AFTER INSERT ON feedback
BEGIN
	INSERT INTO xapi_queue (kind, row_id) VALUES ('feedback', new.id);
END;
-- What was logged before this version, in the order `trmx export xapi` writes it.
INSERT INTO xapi_queue (kind, row_id) SELECT 'run', id FROM runs ORDER BY time, id;
INSERT INTO xapi_queue (kind, row_id) SELECT 'feedback', id FROM feedback ORDER BY time, id;

-- How far each LRS has taken the queue: every entry up to `seq` was delivered (or its row was
-- erased before it could be). `staged_to`: the last entry the batch in xapi_outbox covers.
CREATE TABLE xapi_cursors (
	endpoint TEXT PRIMARY KEY,             -- the statements resource, https://lrs.example/xapi/statements
	seq INTEGER NOT NULL DEFAULT 0,
	staged_to INTEGER NOT NULL DEFAULT 0,
	sent INTEGER NOT NULL DEFAULT 0,       -- statements the LRS has said yes to
	updated_at TEXT                        -- the last delivery (ISO 8601 UTC, ms)
);

-- The batch being delivered to an endpoint, as it was first sent: a resend after a crash or a
-- timeout posts the same bytes, so the LRS sees the same statement again (a duplicate it ignores),
-- never the same id with other content (a run's verdict may have changed since: 409 Conflict).
-- Emptied once the LRS says yes, in the transaction that moves the cursor.
CREATE TABLE xapi_outbox (
	endpoint TEXT NOT NULL REFERENCES xapi_cursors (endpoint),
	seq INTEGER NOT NULL,                  -- the queue entry
	run_id TEXT NOT NULL,                  -- the run (a feedback row's run), for erasure
	statement_id TEXT NOT NULL,
	statement TEXT NOT NULL,               -- the statement's JSON
	PRIMARY KEY (endpoint, seq)
);
CREATE INDEX xapi_outbox_run ON xapi_outbox (run_id);
-- An erased or purged run leaves no statement waiting to go out (the statement holds the
-- learner's pseudonym and the puzzle).
CREATE TRIGGER runs_xapi_outbox AFTER DELETE ON runs
BEGIN
	DELETE FROM xapi_outbox WHERE run_id = old.id;
END;
