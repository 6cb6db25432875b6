-- Channels (SQLite). Keep in step with ../postgres/0002_channels.sql.

-- A brand's provider settings; the token, AES key and secret are one sealed JSON record.
CREATE TABLE channel_settings (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    channel TEXT NOT NULL,
    app_id TEXT NOT NULL,
    agent_id TEXT,
    api_base TEXT NOT NULL,
    sealed_secrets BLOB NOT NULL,
    menu TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, channel)
);

-- Every callback, decrypted and sealed, stored before it is answered; processed afterwards.
CREATE TABLE channel_inbox (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    channel TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    sealed_body BLOB NOT NULL,
    attempts BIGINT NOT NULL,
    processed_at BIGINT,
    outcome TEXT,
    UNIQUE (brand_id, channel, dedup_key)
);
CREATE INDEX channel_inbox_pending ON channel_inbox (processed_at, id);

-- Channel QR codes ("contact me" ways) and what a client adding us through one receives.
CREATE TABLE contact_ways (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    state TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    store_id BIGINT REFERENCES stores(id),
    user_id BIGINT REFERENCES users(id),
    tags TEXT NOT NULL,
    welcome_text TEXT NOT NULL,
    config_id TEXT,
    qr_code TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (brand_id, state)
);

-- Staff members' ids at the providers (the WeCom userid).
CREATE TABLE staff_identities (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    PRIMARY KEY (brand_id, kind, value),
    UNIQUE (brand_id, kind, user_id)
);

-- Messages with clients; bodies sealed. One row per provider message id.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    associate_id BIGINT REFERENCES users(id),
    provider_id TEXT,
    msg_type TEXT NOT NULL,
    sealed_body BLOB NOT NULL,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_by_provider_id ON messages (brand_id, channel, provider_id);
CREATE INDEX messages_by_client ON messages (client_id, at);

-- Timeline entries are recorded once per source (such as `inbox:42`).
ALTER TABLE interactions ADD COLUMN ref TEXT;
CREATE UNIQUE INDEX interactions_by_ref ON interactions (brand_id, ref);
