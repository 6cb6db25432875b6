-- Customer group chats (WeCom 客户群): the roster from `externalcontact/groupchat/*`, the words
-- from the chat archive (会话内容存档), and how far the archive has been read.

CREATE TABLE group_chats (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    chat_id TEXT NOT NULL,
    name TEXT NOT NULL,
    owner_ref TEXT NOT NULL,
    owner_id BIGINT REFERENCES users(id),
    notice TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    dismissed_at BIGINT,
    UNIQUE (brand_id, chat_id)
);
CREATE INDEX group_chats_by_owner ON group_chats (brand_id, owner_id);

-- sealed_name: the member's name as WeChat shows it, sealed like the rest of a person's data.
CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES group_chats(id) ON DELETE CASCADE,
    member_ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    client_id BIGINT REFERENCES clients(id) ON DELETE CASCADE,
    sealed_name BLOB NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_ref)
);
CREATE INDEX group_members_by_user ON group_members (user_id);
CREATE INDEX group_members_by_client ON group_members (client_id);

-- A client's words go with the client (erasure deletes them); an associate's stay.
CREATE TABLE group_messages (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    group_id BIGINT NOT NULL REFERENCES group_chats(id),
    provider_id TEXT NOT NULL,
    sender_ref TEXT NOT NULL,
    client_id BIGINT REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT REFERENCES users(id),
    msg_type TEXT NOT NULL,
    sealed_body BLOB NOT NULL,
    at BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    UNIQUE (brand_id, provider_id)
);
CREATE INDEX group_messages_by_group ON group_messages (group_id, id);

-- What an associate posts to a group through Salon: WeCom's group message to customer groups
-- (`add_msg_template`, chat_type group), which the owner confirms in WeCom. status: queued,
-- sending, sent (msgid), failed, unknown (the call's answer was lost: never sent again).
CREATE TABLE group_posts (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    group_id BIGINT NOT NULL REFERENCES group_chats(id),
    associate_id BIGINT NOT NULL REFERENCES users(id),
    sealed_body BLOB NOT NULL,
    idem_key TEXT NOT NULL,
    status TEXT NOT NULL,
    msgid TEXT,
    error TEXT,
    attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (brand_id, idem_key)
);
CREATE INDEX group_posts_due ON group_posts (status, id);

CREATE TABLE chat_archive_cursors (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A flag on a group message names the group message, and the client only when a client
-- wrote it: SQLite cannot drop NOT NULL in place, so the table is rebuilt (nothing refers to it).
CREATE TABLE compliance_flags_v7 (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    message_id BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    group_message_id BIGINT REFERENCES group_messages(id) ON DELETE CASCADE,
    group_id BIGINT REFERENCES group_chats(id),
    client_id BIGINT REFERENCES clients(id) ON DELETE CASCADE,
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
INSERT INTO compliance_flags_v7 (id, brand_id, message_id, group_message_id, group_id, client_id,
    associate_id, store_id, direction, rule_id, rule_name, category, severity, action, matched,
    status, note, reviewer_id, created_at, reviewed_at)
SELECT id, brand_id, message_id, NULL, NULL, client_id, associate_id, store_id, direction,
    rule_id, rule_name, category, severity, action, matched, status, note, reviewer_id,
    created_at, reviewed_at
FROM compliance_flags;
DROP TABLE compliance_flags;
ALTER TABLE compliance_flags_v7 RENAME TO compliance_flags;
CREATE UNIQUE INDEX flags_once_per_message_rule ON compliance_flags (brand_id, message_id, rule_id);
CREATE UNIQUE INDEX flags_once_per_group_message_rule ON compliance_flags (brand_id, group_message_id, rule_id);
CREATE INDEX flags_by_status ON compliance_flags (brand_id, status, id);
