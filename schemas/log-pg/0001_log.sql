-- The central log on PostgreSQL, version 1: the tables of log.db (schemas/log/0001, 0003, 0005)
-- in PostgreSQL's dialect, for many course servers writing one log. The columns, their names,
-- their order and their text forms are those of log.db, so that the same query, report and
-- export read both (docs/SCHEMA.md, "A central log"). Times stay ISO 8601 UTC text with
-- milliseconds, which sorts as time; cast with time::timestamptz where a timestamp is wanted.

CREATE TABLE runs (
	id text PRIMARY KEY,
	time text NOT NULL,
	kind text NOT NULL CHECK (kind IN ('run', 'eval', 'selftest')),
	batch_id text,
	context text,
	learner text,
	target text NOT NULL,
	module text NOT NULL,
	version text NOT NULL,
	digest text NOT NULL,
	alias text,
	arm text NOT NULL CHECK (arm IN ('main', 'canary')),
	engine text NOT NULL,
	task text NOT NULL,
	task_params text NOT NULL,
	input text NOT NULL,
	output text,
	output_tokens text,
	halt text NOT NULL CHECK (halt IN ('fixed', 'adaptive')),
	max_steps integer,
	steps integer,
	q_halt double precision,
	halt_confidence double precision,
	verdict text CHECK (verdict IN ('valid', 'invalid', 'unknown')),
	problem text,
	latency_ms double precision,
	status text NOT NULL CHECK (status IN ('completed', 'halted', 'budget', 'error')),
	error text,
	host text                              -- the course server that made the run
);
CREATE INDEX runs_module ON runs (module, version);
CREATE INDEX runs_context ON runs (context);
CREATE INDEX runs_learner ON runs (learner);
CREATE INDEX runs_time ON runs (time);

CREATE TABLE feedback (
	id text PRIMARY KEY,
	run_id text NOT NULL REFERENCES runs (id),
	time text NOT NULL,
	source text NOT NULL CHECK (source IN ('checker', 'learner', 'instructor', 'eval')),
	verdict text NOT NULL CHECK (verdict IN ('correct', 'incorrect', 'partial')),
	score double precision CHECK (score IS NULL OR (score >= 0 AND score <= 1)),
	expected text,
	comment text
);
CREATE INDEX feedback_run ON feedback (run_id, source, time, id, verdict, expected);
CREATE INDEX feedback_expected ON feedback (time) WHERE expected IS NOT NULL;

CREATE TABLE erasures (
	id bigserial PRIMARY KEY,
	at text NOT NULL,
	actor text NOT NULL,
	action text NOT NULL CHECK (action IN ('erase', 'purge')),
	criterion text,
	runs bigint NOT NULL,
	feedback bigint NOT NULL,
	module_rows bigint NOT NULL,
	databases integer NOT NULL
);
CREATE FUNCTION erasures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'erasures is append-only';
END $$;
CREATE TRIGGER erasures_no_change BEFORE UPDATE OR DELETE ON erasures
	FOR EACH ROW EXECUTE FUNCTION erasures_append_only();

-- The hosts of this log share one secret (their learners' pseudonyms must agree): its HMAC of a
-- fixed text, kept by the first host that opened the log, lets every other host check its own.
CREATE TABLE log_secret (
	one integer PRIMARY KEY CHECK (one = 1),
	check_value text NOT NULL,
	by_host text,
	at text NOT NULL
);
