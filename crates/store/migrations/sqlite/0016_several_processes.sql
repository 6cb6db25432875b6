-- Several Salon processes on one database (PostgreSQL); SQLite keeps the same tables so that
-- the code is one.

CREATE TABLE worker_leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
);

CREATE TABLE cache_versions (
    brand_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (brand_id, topic)
);

-- SQLite has one writer at a time: ids commit in order, so every row is transaction 0 and the
-- search index's (transaction, id) order is id order.
ALTER TABLE messages ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_by_brand_tx ON messages (brand_id, tx, id);
ALTER TABLE group_messages ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX group_messages_by_brand_tx ON group_messages (brand_id, tx, id);
