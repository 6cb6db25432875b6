-- Several Salon processes on one database.

-- Work that one process at a time must own (the callback inbox, which is processed in order):
-- the holder renews its lease while it works; another process takes over once it runs out.
CREATE TABLE worker_leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);

-- What each process caches (monitoring rules, channel settings, staff, brands) has a version
-- per brand and topic; a change bumps it, and every process drops what it holds of it.
CREATE TABLE cache_versions (
    brand_id BIGINT NOT NULL,
    topic TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (brand_id, topic)
);

-- Each process's search index reads messages in commit-safe order: PostgreSQL numbers a row
-- when it is inserted, so a smaller id can commit after a larger one was read. Rows carry the
-- transaction that wrote them; a reader takes only rows of transactions older than every
-- transaction still running, in (transaction, id) order, which never skips a row. Rows from
-- before this migration read as transaction 0, in id order, as before.
ALTER TABLE messages ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text)::bigint;
CREATE INDEX messages_by_brand_tx ON messages (brand_id, tx, id);
ALTER TABLE group_messages ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE group_messages ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text)::bigint;
CREATE INDEX group_messages_by_brand_tx ON group_messages (brand_id, tx, id);
