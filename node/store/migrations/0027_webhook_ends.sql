-- A webhook subscription an administrator ended: kept, listed as ended,
-- never delivered to again (its open deliveries are given up with it).
ALTER TABLE feed_subscriptions ADD COLUMN ended_at_ms BIGINT;
ALTER TABLE feed_subscriptions ADD COLUMN ended_by TEXT;
