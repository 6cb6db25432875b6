-- Segments, campaigns and their sends: one row per client and campaign (planned or suppressed
-- with its reason), grouped into batches as the channel is called.

CREATE TABLE contact_policies (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    per_week BIGINT NOT NULL,
    per_month BIGINT NOT NULL,
    quiet_start BIGINT NOT NULL,
    quiet_end BIGINT NOT NULL,
    sa_daily_quota BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    name TEXT NOT NULL,
    expression TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL,
    UNIQUE (brand_id, name)
);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    segment_id BIGINT REFERENCES segments(id) ON DELETE SET NULL,
    expression TEXT NOT NULL,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    send_at BIGINT NOT NULL,
    max_recipients BIGINT,
    status TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    planned_at BIGINT
);
CREATE INDEX campaigns_by_brand ON campaigns (brand_id, id);

CREATE TABLE send_batches (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    associate_id BIGINT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    attempt_at BIGINT,
    sealed_body BLOB,
    provider_msgid TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX send_batches_due ON send_batches (status, next_at);

-- cap_day: the client's calendar day the send counts on; NULL when suppressed. One per client
-- and day across all campaigns: the database itself refuses a second.
CREATE TABLE campaign_sends (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT,
    status TEXT NOT NULL,
    reason TEXT,
    cap_day INTEGER,
    not_before BIGINT NOT NULL,
    batch_id BIGINT,
    provider_msgid TEXT,
    sent_at BIGINT,
    delivered_at BIGINT,
    UNIQUE (campaign_id, client_id)
);
CREATE UNIQUE INDEX campaign_sends_one_a_day ON campaign_sends (brand_id, client_id, cap_day)
    WHERE cap_day IS NOT NULL;
CREATE INDEX campaign_sends_due ON campaign_sends (status, not_before, campaign_id, associate_id)
    WHERE status = 'planned';
CREATE INDEX campaign_sends_by_batch ON campaign_sends (batch_id) WHERE batch_id IS NOT NULL;

-- Posts to clients' Moments (朋友圈), as WeCom tasks for the associates in the visible range.
CREATE TABLE moments (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    text TEXT NOT NULL,
    senders TEXT NOT NULL,
    asset_ids TEXT NOT NULL,
    status TEXT NOT NULL,
    jobid TEXT,
    moment_id TEXT,
    error TEXT,
    attempt_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX moments_by_brand ON moments (brand_id, id);
CREATE INDEX moments_due ON moments (status, id);

-- The asset pool: images with their texts; the files live under the data directory.
CREATE TABLE assets (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    title TEXT NOT NULL,
    caption_zh TEXT NOT NULL,
    caption_en TEXT NOT NULL,
    talking_points TEXT NOT NULL,
    guidelines TEXT NOT NULL,
    tags TEXT NOT NULL,
    collection TEXT,
    valid_from BIGINT,
    valid_to BIGINT,
    status TEXT NOT NULL,
    file_name TEXT NOT NULL,
    thumb_name TEXT NOT NULL,
    mime TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX assets_by_brand ON assets (brand_id, status, id);

-- Who sent which asset to whom, and in which campaign.
CREATE TABLE asset_uses (
    brand_id BIGINT NOT NULL,
    asset_id BIGINT NOT NULL REFERENCES assets(id),
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    associate_id BIGINT,
    campaign_id BIGINT,
    at BIGINT NOT NULL
);
CREATE INDEX asset_uses_by_asset ON asset_uses (asset_id, client_id);

-- The images a campaign's messages carry.
ALTER TABLE campaigns ADD COLUMN asset_ids TEXT NOT NULL DEFAULT '[]';
