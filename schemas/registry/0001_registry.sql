-- registry.db, version 1: installed modules and their versions, aliases, context bindings, and the
-- append-only history of every change. docs/SCHEMA.md describes every table and column;
-- docs/REGISTRY.md what the commands do with them. Times are ISO 8601 UTC with milliseconds.

-- Settings of the registry itself. `generation` grows by one with every committed change, so a
-- long-lived host sees a change on its next dispatch by reading one row.
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('generation', '0');

-- A module: every version of one package name.
CREATE TABLE modules (
	name TEXT PRIMARY KEY,                 -- package name (manifest `name`)
	created_at TEXT NOT NULL,              -- first install
	schema_version INTEGER NOT NULL        -- PRAGMA user_version of data/<name>.db
);

-- An installed version: one unpacked package in store/sha256/<digest>/.
CREATE TABLE versions (
	module TEXT NOT NULL REFERENCES modules (name),
	version TEXT NOT NULL,                 -- SemVer (manifest `version`)
	digest TEXT NOT NULL UNIQUE CHECK (length(digest) = 64), -- SHA-256 of the .trmx file
	state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'quarantined')),
	engine TEXT NOT NULL,                  -- manifest engine.name
	engine_abi TEXT NOT NULL,              -- manifest engine.abi
	codec TEXT NOT NULL,                   -- manifest task.codec
	codec_params TEXT NOT NULL,            -- task.params as "key=value,key=value"
	description TEXT NOT NULL,
	manifest TEXT NOT NULL,                -- manifest.yaml as installed
	signature TEXT NOT NULL CHECK (signature IN ('none', 'trusted', 'untrusted')),
	signer TEXT,                           -- key id of the signature, NULL when none
	package_bytes INTEGER NOT NULL,        -- size of the .trmx file
	examples INTEGER NOT NULL,             -- examples run by the self-test
	examples_solved INTEGER NOT NULL,      -- of those with an answer, solved exactly
	installed_at TEXT NOT NULL,
	installed_by TEXT NOT NULL,
	PRIMARY KEY (module, version)
);

-- MODULE@ALIAS -> version (sudoku@champion).
CREATE TABLE aliases (
	module TEXT NOT NULL,
	alias TEXT NOT NULL,
	version TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (module, alias),
	FOREIGN KEY (module, version) REFERENCES versions (module, version)
);

-- A context (a course item) bound to a TARGET, with an optional canary taking a share of learners.
-- Targets are kept as written (MODULE, MODULE@VERSION, MODULE@ALIAS, MODULE@sha256:HEX) and
-- resolved at every dispatch, so moving an alias moves every context bound to it.
CREATE TABLE bindings (
	context TEXT PRIMARY KEY,
	target TEXT NOT NULL,
	canary TEXT,                           -- NULL: no canary
	canary_share REAL NOT NULL DEFAULT 0 CHECK (canary_share >= 0 AND canary_share <= 1),
	updated_at TEXT NOT NULL,
	updated_by TEXT NOT NULL
);

-- The bindings each context had before its current one, newest last; `rollback` pops the newest.
CREATE TABLE binding_stack (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	context TEXT NOT NULL,
	target TEXT,                           -- NULL: the context was unbound
	canary TEXT,
	canary_share REAL NOT NULL DEFAULT 0,
	updated_at TEXT,
	updated_by TEXT
);
CREATE INDEX binding_stack_context ON binding_stack (context, id);

-- Every install, removal, alias, binding and quarantine change: who, when, from what to what.
CREATE TABLE history (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at TEXT NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('install', 'remove', 'alias-set', 'alias-rm', 'bind',
	                                       'unbind', 'rollback', 'quarantine', 'release')),
	subject TEXT NOT NULL,                 -- MODULE@VERSION, MODULE@ALIAS or the context
	old TEXT,                              -- the value before (a version, a binding, a state)
	new TEXT,                              -- the value after
	detail TEXT                            -- digest, reason, forced removal, ...
);
CREATE TRIGGER history_append_only_update BEFORE UPDATE ON history
BEGIN
	SELECT RAISE(ABORT, 'history is append-only');
END;
CREATE TRIGGER history_append_only_delete BEFORE DELETE ON history
BEGIN
	SELECT RAISE(ABORT, 'history is append-only');
END;
