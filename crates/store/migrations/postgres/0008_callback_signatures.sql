-- Callback signatures seen lately, with a keyed hash of the callback they signed: a signature
-- is good for that callback only (Tencent's retries carry the same one), and only until it
-- expires (after the timestamp's freshness window, when it would be refused anyway).
CREATE TABLE callback_signatures (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    channel TEXT NOT NULL,
    signature TEXT NOT NULL,
    body_digest BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, channel, signature)
);
CREATE INDEX callback_signatures_by_expiry ON callback_signatures (expires_at);
