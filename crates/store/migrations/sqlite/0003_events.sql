-- The brand's interaction event stream (shared/spec/events.md). Keep in step with
-- ../postgres/0003_events.sql.
-- `line` is the event in the exchange format (canonical JSON); `digest` (SHA-256 of the line)
-- makes importing the same events twice add nothing. Followers are channel ids (openids,
-- external_userids), not names.
CREATE TABLE brand_events (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    follower TEXT,
    line TEXT NOT NULL,
    digest BLOB NOT NULL,
    UNIQUE (brand_id, digest)
);
CREATE INDEX brand_events_by_time ON brand_events (brand_id, ts);
