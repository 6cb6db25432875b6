-- Salon foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql:
-- the test `schemas_stay_in_step` compares the two.
-- Instants are BIGINT milliseconds since the epoch (UTC); money is BIGINT minor units.
-- PII columns are AES-256-GCM ciphertexts (BLOB); *_bidx and client_terms are keyed hashes.

CREATE TABLE brands (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    currencies TEXT NOT NULL,
    locales TEXT NOT NULL,
    tiers TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE stores (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (brand_id, code)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    store_id BIGINT REFERENCES stores(id),
    status TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    departed_at BIGINT,
    UNIQUE (brand_id, email)
);
CREATE INDEX users_by_store ON users (brand_id, store_id);

CREATE TABLE api_tokens (
    token_hash BLOB NOT NULL PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    role TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    store_id BIGINT REFERENCES stores(id),
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash BLOB NOT NULL PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE clients (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    pii BLOB NOT NULL,
    phone_bidx BLOB,
    email_bidx BLOB,
    language TEXT,
    city TEXT,
    tier TEXT,
    lifetime_spend_minor BIGINT NOT NULL,
    currency TEXT,
    first_purchase_at BIGINT,
    last_purchase_at BIGINT,
    store_id BIGINT REFERENCES stores(id),
    associate_id BIGINT REFERENCES users(id),
    preferences TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX clients_by_associate ON clients (brand_id, associate_id, id);
CREATE INDEX clients_by_store ON clients (brand_id, store_id, id);
CREATE INDEX clients_by_tier ON clients (brand_id, tier, id);
CREATE INDEX clients_by_phone ON clients (brand_id, phone_bidx);
CREATE INDEX clients_by_email ON clients (brand_id, email_bidx);

CREATE TABLE client_terms (
    brand_id BIGINT NOT NULL,
    term BLOB NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    PRIMARY KEY (brand_id, term, client_id)
) WITHOUT ROWID;
CREATE INDEX client_terms_by_client ON client_terms (client_id);

CREATE TABLE client_tags (
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (client_id, tag)
);
CREATE INDEX client_tags_by_tag ON client_tags (brand_id, tag, client_id);

CREATE TABLE client_identities (
    brand_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, kind, value)
);
CREATE INDEX client_identities_by_client ON client_identities (client_id);

CREATE TABLE client_consents (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted BIGINT NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX client_consents_by_client ON client_consents (client_id, at);

CREATE TABLE client_notes (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES users(id),
    body BLOB NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX client_notes_by_client ON client_notes (client_id, at);

CREATE TABLE client_assignments (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT NOT NULL REFERENCES users(id),
    store_id BIGINT REFERENCES stores(id),
    assigned_by BIGINT REFERENCES users(id),
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX client_assignments_by_client ON client_assignments (client_id, at);

CREATE TABLE purchases (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    store_id BIGINT REFERENCES stores(id),
    associate_id BIGINT REFERENCES users(id),
    items TEXT NOT NULL
);
CREATE INDEX purchases_by_client ON purchases (client_id, at);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX interactions_by_client ON interactions (client_id, at);
