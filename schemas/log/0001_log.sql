-- log.db, version 1: the usage and feedback log. Append-only and idempotent: a run and a piece of
-- feedback each carry an id made by the caller (UUIDv7), and a retry with the same id changes
-- nothing. docs/SCHEMA.md describes every column. Times are ISO 8601 UTC with milliseconds.

-- One row per puzzle a module solved (or failed to).
CREATE TABLE runs (
	id TEXT PRIMARY KEY,                   -- UUIDv7, made by the caller
	time TEXT NOT NULL,                    -- when the dispatch began
	kind TEXT NOT NULL CHECK (kind IN ('run', 'eval', 'selftest')),
	batch_id TEXT,                         -- shared by the runs of one --batch or one evaluation
	context TEXT,                          -- the course item; NULL when a module was named directly
	learner TEXT,                          -- HMAC-SHA256 pseudonym of the learner id (hex); NULL: anonymous
	target TEXT NOT NULL,                  -- the target that was resolved (a binding's, or as given)
	module TEXT NOT NULL,
	version TEXT NOT NULL,
	digest TEXT NOT NULL,                  -- SHA-256 of the package that really ran
	alias TEXT,                            -- the alias the target went through, if any
	arm TEXT NOT NULL CHECK (arm IN ('main', 'canary')),
	engine TEXT NOT NULL,                  -- "trm 1.0.0"
	task TEXT NOT NULL,                    -- codec name
	task_params TEXT NOT NULL,             -- "size=4"
	input TEXT NOT NULL,                   -- the puzzle, in the codec's one-line form
	output TEXT,                           -- the answer, one-line form; NULL when it has no text
	output_tokens TEXT,                    -- the answer's token ids (space-separated) when output is NULL
	halt TEXT NOT NULL CHECK (halt IN ('fixed', 'adaptive')),
	max_steps INTEGER,                     -- the step count (fixed) or cap (adaptive)
	steps INTEGER,                         -- ACT steps run
	q_halt REAL,                           -- the Q head's halt logit at the last step
	halt_confidence REAL,                  -- sigmoid(q_halt)
	verdict TEXT CHECK (verdict IN ('valid', 'invalid', 'unknown')), -- the codec's checker
	problem TEXT,                          -- the checker's first problem ("conflict", ...), NULL when valid
	latency_ms REAL,                       -- from the dispatch's start to this answer
	status TEXT NOT NULL CHECK (status IN ('completed', 'halted', 'budget', 'error')),
	error TEXT                             -- the message when status = 'error'
);
CREATE INDEX runs_module ON runs (module, version);
CREATE INDEX runs_context ON runs (context);
CREATE INDEX runs_learner ON runs (learner);

-- What came of a run: verdicts of the checker, the learner, an instructor, or an evaluation's
-- expected answer.
CREATE TABLE feedback (
	id TEXT PRIMARY KEY,                   -- UUIDv7
	run_id TEXT NOT NULL REFERENCES runs (id),
	time TEXT NOT NULL,
	source TEXT NOT NULL CHECK (source IN ('checker', 'learner', 'instructor', 'eval')),
	verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'incorrect', 'partial')),
	score REAL CHECK (score IS NULL OR (score >= 0 AND score <= 1)),
	expected TEXT,                         -- the corrected or expected answer, one-line form
	comment TEXT
);
CREATE INDEX feedback_run ON feedback (run_id);
