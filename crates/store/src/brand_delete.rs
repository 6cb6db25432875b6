//! Removing a brand and everything scoped to it (`salon brand delete`): one ordered list of
//! statements, each binding the brand's id as `$1`, run in one transaction on either backend.
//! Children go before their parents, so that foreign keys hold at every step. The
//! conformance test `deleting_a_brand_leaves_nothing_of_it` reads the schema and checks that
//! every table with a `brand_id` column holds no row of the brand afterwards: a table added
//! without its line here fails it.

pub const DELETE_BRAND: &[&str] = &[
    // Rows keyed by their parent only (no brand_id column of their own).
    "DELETE FROM share_opens WHERE link_id IN (SELECT id FROM share_links WHERE brand_id = $1)",
    "DELETE FROM group_members WHERE group_id IN (SELECT id FROM group_chats WHERE brand_id = $1)",
    "DELETE FROM campaign_suppressions WHERE campaign_id IN (SELECT id FROM campaigns WHERE brand_id = $1)",
    // What processes cache of it (the deletion itself is bumped again afterwards).
    "DELETE FROM cache_versions WHERE brand_id = $1",
    // Links, flags, group chats.
    "DELETE FROM share_links WHERE brand_id = $1",
    "DELETE FROM compliance_flags WHERE brand_id = $1",
    "DELETE FROM group_posts WHERE brand_id = $1",
    "DELETE FROM group_messages WHERE brand_id = $1",
    "DELETE FROM group_chats WHERE brand_id = $1",
    // Broadcasts, Moments, the asset pool.
    "DELETE FROM asset_uses WHERE brand_id = $1",
    "DELETE FROM campaign_sends WHERE brand_id = $1",
    "DELETE FROM send_batches WHERE brand_id = $1",
    "DELETE FROM campaigns WHERE brand_id = $1",
    "DELETE FROM segments WHERE brand_id = $1",
    "DELETE FROM moments WHERE brand_id = $1",
    "DELETE FROM assets WHERE brand_id = $1",
    // Conversations and the client book.
    "DELETE FROM outbox WHERE brand_id = $1",
    "DELETE FROM conversation_reads WHERE brand_id = $1",
    "DELETE FROM messages WHERE brand_id = $1",
    "DELETE FROM interactions WHERE brand_id = $1",
    "DELETE FROM purchases WHERE brand_id = $1",
    "DELETE FROM client_assignments WHERE brand_id = $1",
    "DELETE FROM client_notes WHERE brand_id = $1",
    "DELETE FROM client_consents WHERE brand_id = $1",
    "DELETE FROM client_identities WHERE brand_id = $1",
    "DELETE FROM client_tags WHERE brand_id = $1",
    "DELETE FROM client_terms WHERE brand_id = $1",
    "DELETE FROM clients WHERE brand_id = $1",
    // Sales.
    "DELETE FROM sales_disputes WHERE brand_id = $1",
    "DELETE FROM sales_returns WHERE brand_id = $1",
    "DELETE FROM sales_orders WHERE brand_id = $1",
    "DELETE FROM sales_touch_log WHERE brand_id = $1",
    "DELETE FROM sales_parties WHERE brand_id = $1",
    "DELETE FROM sales_targets WHERE brand_id = $1",
    "DELETE FROM sales_policies WHERE brand_id = $1",
    "DELETE FROM sales_generations WHERE brand_id = $1",
    "DELETE FROM sales_webhooks WHERE brand_id = $1",
    "DELETE FROM fx_rates WHERE brand_id = $1",
    "DELETE FROM tier_thresholds WHERE brand_id = $1",
    // Catalogue.
    "DELETE FROM catalogue_stock WHERE brand_id = $1",
    "DELETE FROM catalogue_products WHERE brand_id = $1",
    "DELETE FROM catalogue_generations WHERE brand_id = $1",
    // Channels: settings (and so their secrets), inbox, QR codes, staff links.
    "DELETE FROM channel_settings WHERE brand_id = $1",
    "DELETE FROM channel_inbox WHERE brand_id = $1",
    "DELETE FROM callback_signatures WHERE brand_id = $1",
    "DELETE FROM chat_archive_cursors WHERE brand_id = $1",
    "DELETE FROM contact_ways WHERE brand_id = $1",
    "DELETE FROM staff_identities WHERE brand_id = $1",
    // Events, rules, policies, the audit log.
    "DELETE FROM brand_events WHERE brand_id = $1",
    "DELETE FROM monitoring_rules WHERE brand_id = $1",
    "DELETE FROM contact_policies WHERE brand_id = $1",
    "DELETE FROM audit_log WHERE brand_id = $1",
    // Credentials, staff, stores, and the brand itself.
    "DELETE FROM sessions WHERE brand_id = $1",
    "DELETE FROM api_tokens WHERE brand_id = $1",
    "DELETE FROM users WHERE brand_id = $1",
    "DELETE FROM stores WHERE brand_id = $1",
    "DELETE FROM brands WHERE id = $1",
];
