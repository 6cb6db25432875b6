-- Planning writes one row per batch of clients, not one per client: the batches are formed
-- when the campaign is planned and listed in `members` (client ids, comma-separated). A
-- batch's clients get their `campaign_sends` rows when it is handed to the dispatcher, so the
-- row-per-client cost is paid at the channel's pace, not in the planning transaction.
-- cap_day: the clients' calendar day the batch counts on (one broadcast per client and day;
-- the planner checks it under the brand's planning lock, and `campaign_sends_one_a_day` still
-- refuses a second handed-over send).
ALTER TABLE send_batches ADD COLUMN members TEXT;
ALTER TABLE send_batches ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE send_batches ADD COLUMN cap_day INTEGER;
CREATE INDEX send_batches_by_campaign ON send_batches (campaign_id, status);
CREATE INDEX send_batches_planned_days ON send_batches (brand_id, cap_day) WHERE status = 'planned';

-- Clients a campaign left out, by reason, as lists like the batches'.
CREATE TABLE campaign_suppressions (
    id INTEGER PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    members TEXT NOT NULL
);
CREATE INDEX campaign_suppressions_by_campaign ON campaign_suppressions (campaign_id);

-- Sends planned before this version become batches of one.
INSERT INTO send_batches (brand_id, campaign_id, associate_id, status, attempts, next_at, lease_until,
    created_at, members, size, cap_day)
SELECT brand_id, campaign_id, associate_id, 'planned', 0, not_before, 0, not_before,
    CAST(client_id AS TEXT), 1, cap_day
FROM campaign_sends WHERE status = 'planned' AND associate_id IS NOT NULL;
DELETE FROM campaign_sends WHERE status = 'planned' AND associate_id IS NOT NULL;
DROP INDEX campaign_sends_due;

-- What came of a Moments post per associate (published, seen by, likes, comments), as WeCom
-- last reported it, and when it was asked.
ALTER TABLE moments ADD COLUMN reach TEXT;
ALTER TABLE moments ADD COLUMN checked_at BIGINT;
