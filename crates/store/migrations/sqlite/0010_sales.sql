-- Sales (spec/attribution.md): orders and returns from the POS and the e-commerce site, the
-- touches that earn credit, exchange rates, the brand's attribution policy, monthly targets and
-- disputes. Clients are named by their CRM id and associates by their e-mail, as the spec's files
-- name them, so that an order may arrive before its client or associate is known to Salon.

CREATE TABLE sales_orders (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    order_id TEXT NOT NULL,
    source TEXT NOT NULL,
    client_ref TEXT,
    store_code TEXT,
    placed_at BIGINT NOT NULL,
    currency TEXT NOT NULL,
    sold_by TEXT,
    -- [{"line", "sku", "qty", "amount"}], amounts in minor units of the order's currency.
    lines TEXT NOT NULL,
    total BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (brand_id, order_id)
);
CREATE INDEX sales_orders_by_time ON sales_orders (brand_id, placed_at);
CREATE INDEX sales_orders_by_client ON sales_orders (brand_id, client_ref, placed_at);

CREATE TABLE sales_returns (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    return_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    line BIGINT NOT NULL,
    qty BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (brand_id, return_id)
);
CREATE INDEX sales_returns_by_time ON sales_returns (brand_id, at);
CREATE INDEX sales_returns_by_order ON sales_returns (brand_id, order_id);

-- origin: import, or what recorded it as it happened (conversation, broadcast, share_link, …).
-- The same touch twice is held once.
CREATE TABLE sales_touches (
    brand_id BIGINT NOT NULL,
    client_ref TEXT NOT NULL,
    at BIGINT NOT NULL,
    associate TEXT NOT NULL,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (brand_id, client_ref, at, associate, kind)
) WITHOUT ROWID;

-- rate: one unit of currency in the brand's currency from that date on, an exact decimal.
CREATE TABLE fx_rates (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    currency TEXT NOT NULL,
    date TEXT NOT NULL,
    rate TEXT NOT NULL,
    PRIMARY KEY (brand_id, currency, date)
);

-- policy: the spec's policy file without its targets (those are in sales_targets).
CREATE TABLE sales_policies (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    policy TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL
);

CREATE TABLE sales_targets (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    month TEXT NOT NULL,
    associate TEXT NOT NULL,
    amount BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, month, associate)
);

-- status: open, decided (shares set), rejected (the computed credit stands).
-- shares: [["e-mail", "fraction"], …] once decided.
CREATE TABLE sales_disputes (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    order_id TEXT NOT NULL,
    raised_by BIGINT NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    shares TEXT,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    decision_note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sales_disputes_by_order ON sales_disputes (brand_id, order_id);
CREATE INDEX sales_disputes_by_status ON sales_disputes (brand_id, status, id);

-- Bumped by every write that can change a figure: what a cached month report is checked against,
-- in every process.
CREATE TABLE sales_generations (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    generation BIGINT NOT NULL
);

-- Tracked share links (/s/{code}): who shared what, for which client (when made for one), and
-- every open.
CREATE TABLE share_links (
    id INTEGER PRIMARY KEY,
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    code TEXT NOT NULL UNIQUE,
    associate_id BIGINT NOT NULL REFERENCES users(id),
    client_id BIGINT REFERENCES clients(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX share_links_by_associate ON share_links (brand_id, associate_id, id);

CREATE TABLE share_opens (
    id INTEGER PRIMARY KEY,
    link_id BIGINT NOT NULL REFERENCES share_links(id) ON DELETE CASCADE,
    client_id BIGINT REFERENCES clients(id) ON DELETE SET NULL,
    at BIGINT NOT NULL
);
CREATE INDEX share_opens_by_link ON share_opens (link_id, at);

-- The secret an e-commerce platform signs its order webhooks with (HMAC-SHA256 over the raw
-- body), sealed with the brand's key.
CREATE TABLE sales_webhooks (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    sealed_secret BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
