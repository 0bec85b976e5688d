-- log.db, version 5: the host that made each run. A central log on PostgreSQL (schemas/log-pg/,
-- docs/SCHEMA.md, "A central log") takes the runs of many course servers, and an outbox of this
-- same schema holds a host's runs while PostgreSQL cannot be reached: every run says whose it is
-- (the home's `host.id`, else the machine's host name). NULL for runs logged before version 5.
ALTER TABLE runs ADD COLUMN host TEXT;
