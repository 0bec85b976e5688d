-- sudoku9: the module's own SQLite tables (docs/FORMAT.md, "schema.sql"). The registry creates
-- data/sudoku9.db from this file at install and lets the module touch nothing else.
-- One row per hint a learner asked for while solving by hand.
CREATE TABLE hints (
	id INTEGER PRIMARY KEY,
	run_id TEXT NOT NULL,           -- the runs row of the usage log that gave the hint
	cell INTEGER NOT NULL,          -- 0..80, row-major
	digit INTEGER NOT NULL CHECK (digit BETWEEN 1 AND 9),
	given_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX hints_run ON hints (run_id);
