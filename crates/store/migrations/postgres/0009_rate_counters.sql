-- What the web edge shares between Salon processes: rate counters.
--
-- Counted: sign-in failures per account and per address, public form posts per address.
-- The key is a keyed hash (HMAC under the installation's key) of what is counted, so neither
-- an address nor an e-mail is kept in clear; a window is fixed from its first hit.
CREATE TABLE rate_counters (
    key BYTEA NOT NULL PRIMARY KEY,
    hits BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
CREATE INDEX rate_counters_by_window ON rate_counters (window_start);
