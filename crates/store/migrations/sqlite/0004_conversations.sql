-- Conversations and compliance: monitoring rules, the review queue, the outbox, read markers
-- and the hash-chained audit log.

CREATE TABLE monitoring_rules (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    action TEXT NOT NULL,
    matcher TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (brand_id, name)
);

CREATE TABLE compliance_flags (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    message_id BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT REFERENCES users(id),
    store_id BIGINT REFERENCES stores(id),
    direction TEXT NOT NULL,
    rule_id BIGINT NOT NULL,
    rule_name TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    action TEXT NOT NULL,
    matched TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    reviewer_id BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    reviewed_at BIGINT
);
CREATE UNIQUE INDEX flags_once_per_message_rule ON compliance_flags (brand_id, message_id, rule_id);
CREATE INDEX flags_by_status ON compliance_flags (brand_id, status, id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT REFERENCES users(id),
    channel TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    sealed_body BLOB NOT NULL,
    idem_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    provider_id TEXT,
    message_id BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    UNIQUE (brand_id, idem_key)
);
CREATE INDEX outbox_due ON outbox (status, next_at, id);

CREATE TABLE conversation_reads (
    brand_id BIGINT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    last_read_id BIGINT NOT NULL,
    PRIMARY KEY (client_id, user_id)
);

CREATE TABLE audit_log (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (brand_id, seq)
);

CREATE INDEX messages_by_brand ON messages (brand_id, id);
