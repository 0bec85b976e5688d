-- maze: the module's own SQLite tables (docs/FORMAT.md, "schema.sql"). The registry creates
-- data/maze.db from this file at install and lets the module touch nothing else.
-- One row per path a learner drew before asking the model.
CREATE TABLE attempts (
	id INTEGER PRIMARY KEY,
	run_id TEXT NOT NULL,           -- the runs row of the usage log
	learner_moves INTEGER NOT NULL, -- moves of the learner's own path (0: none drawn)
	reached_goal INTEGER NOT NULL DEFAULT 0 CHECK (reached_goal IN (0, 1))
);
CREATE INDEX attempts_run ON attempts (run_id);
