-- Official Account openids held keyed (the brand's keyed hash in `value`, as the event stream
-- holds followers) with a sealed copy here for sends; older rows are keyed at the next start.
ALTER TABLE client_identities ADD COLUMN sealed BYTEA;
