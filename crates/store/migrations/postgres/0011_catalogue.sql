-- The catalogue: each brand's products by SKU, and how many of each every store holds.
-- colours, sizes, images: JSON arrays; prices: JSON [["CNY", minor units], …] sorted by currency.

CREATE TABLE catalogue_products (
    brand_id BIGINT NOT NULL REFERENCES brands(id),
    sku TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    category TEXT NOT NULL,
    material TEXT NOT NULL,
    colours TEXT NOT NULL,
    sizes TEXT NOT NULL,
    prices TEXT NOT NULL,
    images TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    url TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, sku)
);
CREATE INDEX catalogue_products_by_category ON catalogue_products (brand_id, category, sku);

CREATE TABLE catalogue_stock (
    brand_id BIGINT NOT NULL,
    sku TEXT NOT NULL,
    store_id BIGINT NOT NULL REFERENCES stores(id),
    quantity BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, sku, store_id),
    FOREIGN KEY (brand_id, sku) REFERENCES catalogue_products (brand_id, sku)
);
CREATE INDEX catalogue_stock_by_store ON catalogue_stock (store_id, sku);

-- Bumped by every catalogue write: each process's search index compares it.
CREATE TABLE catalogue_generations (
    brand_id BIGINT NOT NULL PRIMARY KEY REFERENCES brands(id),
    generation BIGINT NOT NULL
);
