-- Official Account openids held keyed (the brand's keyed hash in `value`, as the event stream
-- holds followers) with a sealed copy here for sends; older rows are keyed at the next start.
ALTER TABLE client_identities ADD COLUMN sealed BLOB;

-- Conversions of older rows done in Rust at start (sealing, keying): each is recorded once
-- finished, so that later starts do not scan the tables again.
CREATE TABLE salon_conversions (
    name TEXT NOT NULL PRIMARY KEY,
    done_at BIGINT NOT NULL
);
