-- The central log on PostgreSQL, version 3: forwarding xAPI statements to learning record stores
-- (log.db's schemas/log/0004 for many hosts; docs/SCHEMA.md, "A central log").
--
-- Many hosts commit at once, so a sequence number is not commit order: a transaction may take
-- number 7, another 8, and 8 commit first; a cursor past 8 would never send 7. Each entry keeps
-- the id of the transaction that made it instead, and a sender takes only entries whose
-- transaction is older than the oldest one still running (pg_snapshot_xmin of its snapshot):
-- every such transaction has ended, so no entry can appear before the cursor later. The queue is
-- ordered by (xid, seq). A long transaction anywhere in the cluster delays forwarding; it loses
-- nothing.
--
-- Entries are made only while some LRS is registered (a row in xapi_cursors): a log with no LRS
-- pays nothing per append. The first registration fills the queue with every row not in it yet,
-- holding the writers off meanwhile (lrs.c).

CREATE TABLE xapi_queue (
	seq bigserial PRIMARY KEY,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	kind text NOT NULL CHECK (kind IN ('run', 'feedback')),
	row_id text NOT NULL                   -- runs.id or feedback.id
);
CREATE INDEX xapi_queue_order ON xapi_queue (xid, seq);
-- No index on (kind, row_id): it cost a third of the append rate while an LRS is registered
-- (measured: 22,000 runs/s batched without a registered LRS, 14,000 with that index, 17,000-19,000
-- without it); the one query that looks rows up by id, the first registration's fill, hashes.

-- How far each LRS has taken the queue: every entry up to (xid, seq) was delivered (or its row was
-- erased before it could be); (staged_xid, staged_seq): the last entry the batch in xapi_outbox
-- covers.
CREATE TABLE xapi_cursors (
	endpoint text PRIMARY KEY,             -- the statements resource, https://lrs.example/xapi/statements
	xid xid8 NOT NULL DEFAULT '0',
	seq bigint NOT NULL DEFAULT 0,
	staged_xid xid8 NOT NULL DEFAULT '0',
	staged_seq bigint NOT NULL DEFAULT 0,
	sent bigint NOT NULL DEFAULT 0,        -- statements the LRS has said yes to
	updated_at text                        -- the last delivery (ISO 8601 UTC, ms)
);

-- The batch being delivered to an endpoint, as it was first sent (a resend posts the same bytes).
-- An erased or purged run takes its waiting statements with it.
CREATE TABLE xapi_outbox (
	endpoint text NOT NULL REFERENCES xapi_cursors (endpoint),
	xid xid8 NOT NULL,
	seq bigint NOT NULL,                   -- the queue entry
	run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	statement_id text NOT NULL,
	statement text NOT NULL,               -- the statement's JSON
	PRIMARY KEY (endpoint, seq)
);
CREATE INDEX xapi_outbox_run ON xapi_outbox (run_id);

-- A statement-level trigger on each table: the rows an INSERT added (ON CONFLICT DO NOTHING leaves
-- a retried id out of the transition table), in one INSERT.
CREATE FUNCTION trmx_xapi_queue_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM xapi_cursors) THEN
		INSERT INTO xapi_queue (kind, row_id)
		SELECT CASE TG_TABLE_NAME WHEN 'runs' THEN 'run' ELSE 'feedback' END, id FROM added ORDER BY time, id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER runs_xapi_queue AFTER INSERT ON runs REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION trmx_xapi_queue_added();
CREATE TRIGGER feedback_xapi_queue AFTER INSERT ON feedback REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION trmx_xapi_queue_added();
