-- Orders' brand checked when the transaction commits, not row by row: an immediate foreign key
-- makes every insert abortable, and SQLite then keeps an undo journal of each page a bulk
-- statement changes (a third of a large import's time). The brand is still checked, and an
-- order of a brand that does not exist still fails its transaction.
CREATE TABLE sales_orders_bulk (
    brand_id BIGINT NOT NULL REFERENCES brands(id) DEFERRABLE INITIALLY DEFERRED,
    placed_at BIGINT NOT NULL,
    order_id TEXT NOT NULL,
    source TEXT NOT NULL,
    client_ref TEXT,
    store_code TEXT,
    currency TEXT NOT NULL,
    sold_by TEXT,
    lines TEXT NOT NULL,
    total BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, placed_at, order_id)
) WITHOUT ROWID;

INSERT INTO sales_orders_bulk (brand_id, placed_at, order_id, source, client_ref,
    store_code, currency, sold_by, lines, total, created_at)
SELECT brand_id, placed_at, order_id, source, client_ref, store_code, currency, sold_by, lines,
       total, created_at
FROM sales_orders;

DROP TABLE sales_orders;
ALTER TABLE sales_orders_bulk RENAME TO sales_orders;
CREATE UNIQUE INDEX sales_orders_by_id ON sales_orders (brand_id, order_id);
-- A client's orders: queried with `+brand_id` (the brand only filters) so that the planner, which
-- has no statistics, does not take the primary key's brand prefix and read the brand's orders.
CREATE INDEX sales_orders_by_client ON sales_orders (client_ref, placed_at);
